#include "queue_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "durable.h"

static int path(char *out, size_t n, const char *dir, const char *sub, const char *name)
{
	int w = snprintf(out, n, "%s%s%s%s%s", dir, sub ? "/" : "", sub ? sub : "",
		name ? "/" : "", name ? name : "");

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static int mkdir1(const char *p)
{
	return mkdir(p, 0750) != 0 && errno != EEXIST ? -errno : 0;
}

static int clear_tmp(const char *dir)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	if (path(p, sizeof(p), dir, "tmp", NULL) || (d = opendir(p)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char f[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		/* An unfinished write: its client never got a 250. */
		if (path(f, sizeof(f), dir, "tmp", e->d_name) == 0)
			unlink(f);
	}
	closedir(d);
	return 0;
}

int queue_store_open(const char *dir, int *lock_fd)
{
	char p[PATH_MAX];
	int r, fd;

	*lock_fd = -1;
	if ((r = mkdir1(dir)) != 0)
		return r;
	if ((r = path(p, sizeof(p), dir, ".lock", NULL)) != 0)
		return r;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*lock_fd = fd;
	if ((r = path(p, sizeof(p), dir, "tmp", NULL)) != 0 || (r = mkdir1(p)) != 0)
		return r;
	if ((r = path(p, sizeof(p), dir, "quarantine", NULL)) != 0 || (r = mkdir1(p)) != 0)
		return r;
	if (access(dir, W_OK) != 0)
		return -errno;
	if ((r = clear_tmp(dir)) != 0)
		return r;
	return durable_fsync_dir(dir);
}

static int write_all(int fd, const struct iovec *iov0, int n)
{
	struct iovec iov[2];

	memcpy(iov, iov0, (size_t)n * sizeof(*iov));
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov[0].iov_len) {
			w -= (ssize_t)iov[0].iov_len;
			memmove(iov, iov + 1, (size_t)(n - 1) * sizeof(*iov));
			n--;
		}
		if (n > 0) {
			iov[0].iov_base = (char *)iov[0].iov_base + w;
			iov[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

int queue_store_write(const char *dir, const char *id, const void *head, size_t head_len,
	const void *body, size_t body_len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	struct iovec iov[2] = { { (void *)head, head_len }, { (void *)body, body_len } };
	int fd, r;

	if ((r = path(tmp, sizeof(tmp), dir, "tmp", id)) != 0 ||
	    (r = path(dst, sizeof(dst), dir, id, NULL)) != 0)
		return r;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	r = write_all(fd, iov, body_len ? 2 : 1);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, dst) != 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	/* The rename is durable only once the directory is. */
	r = durable_fsync_dir(dir);
	if (r)
		unlink(dst);
	return r;
}

static int read_upto(const char *dir, const char *id, struct buf *out, size_t want, bool whole,
	size_t max)
{
	char p[PATH_MAX];
	struct stat st;
	int fd, r = 0;

	buf_reset(out);
	if ((r = path(p, sizeof(p), dir, id, NULL)) != 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EBADMSG;
		goto out;
	}
	if (whole) {
		if ((uint64_t)st.st_size > max) {
			r = -EFBIG;
			goto out;
		}
		want = (size_t)st.st_size;
	}
	if (buf_reserve(out, want) != 0) {
		r = -ENOMEM;
		goto out;
	}
	while (out->len < want) {
		ssize_t n = read(fd, out->data + out->len, want - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	out->data[out->len] = '\0';
out:
	close(fd);
	return r;
}

int queue_store_read(const char *dir, const char *id, struct buf *out, size_t max)
{
	return read_upto(dir, id, out, 0, true, max);
}

int queue_store_read_head(const char *dir, const char *id, struct buf *out, size_t want)
{
	return read_upto(dir, id, out, want, false, 0);
}

int queue_store_update(const char *dir, const char *id, size_t off, const void *p, size_t n)
{
	char f[PATH_MAX];
	int fd, r = 0;

	if ((r = path(f, sizeof(f), dir, id, NULL)) != 0)
		return r;
	fd = open(f, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
		off += (size_t)w;
	}
	if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	return r;
}

int queue_store_remove(const char *dir, const char *id)
{
	char f[PATH_MAX];
	int r;

	if ((r = path(f, sizeof(f), dir, id, NULL)) != 0)
		return r;
	if (unlink(f) != 0 && errno != ENOENT)
		return -errno;
	return durable_fsync_dir(dir);
}

int queue_store_quarantine(const char *dir, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX], q[PATH_MAX];
	int r;

	if ((r = path(from, sizeof(from), dir, name, NULL)) != 0 ||
	    (r = path(to, sizeof(to), dir, "quarantine", name)) != 0 ||
	    (r = path(q, sizeof(q), dir, "quarantine", NULL)) != 0)
		return r;
	if (rename(from, to) != 0)
		return -errno;
	if ((r = durable_fsync_dir(q)) != 0)
		return r;
	return durable_fsync_dir(dir);
}

int queue_store_free_bytes(const char *dir, uint64_t *out)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) != 0)
		return -errno;
	*out = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int queue_store_scan(const char *dir, int (*cb)(void *arg, const char *name), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (d == NULL)
		return -errno;
	while (r == 0 && (e = readdir(d)) != NULL) {
		char f[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.' || path(f, sizeof(f), dir, e->d_name, NULL) != 0 ||
		    lstat(f, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		r = cb(arg, e->d_name);
	}
	closedir(d);
	return r;
}
