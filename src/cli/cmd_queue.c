/* `sesrelay queue list | show ID | flush [ID] | delete ID | hold ID |
 * release ID [--json]`: the queue of a running relay (delivery queue),
 * through its control socket <queue_dir>/control. Output for a person by
 * default, the relay's JSON with --json. Exit 0 on success, 1 when the
 * relay is not reachable or refuses (no such message), 2 for usage or
 * configuration errors. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "commands.h"
#include "config.h"
#include "queue_control.h"
#include "queue_id.h"

/* A full listing of queue_max_messages entries fits in this. */
#define MAX_ANSWER (512u << 20)

static void print_usage(FILE *f)
{
	fprintf(f, "usage: sesrelay [-c FILE] queue list [--json]\n"
		"       sesrelay [-c FILE] queue show ID [--json]\n"
		"       sesrelay [-c FILE] queue flush [ID]\n"
		"       sesrelay [-c FILE] queue delete|hold|release ID\n");
}

static int usage(void)
{
	print_usage(stderr);
	return 2;
}

static int ask(const char *dir, const char *request, struct buf *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char chunk[65536];
	int fd, w;

	w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, QUEUE_CONTROL_NAME);
	if (w < 0 || (size_t)w >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		int e = -errno;
		close(fd);
		return e;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (answer->len + (size_t)n > MAX_ANSWER || buf_append(answer, chunk, (size_t)n)) {
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	return answer->len ? 0 : -EPIPE;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static bool flag(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void span(double s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, n, "%.0fs", s);
	else if (s < 7200)
		snprintf(out, n, "%.0fm", s / 60);
	else if (s < 172800)
		snprintf(out, n, "%.0fh", s / 3600);
	else
		snprintf(out, n, "%.0fd", s / 86400);
}

static void print_entry(const cJSON *m, time_t now)
{
	char age[16], next[24];
	const char *from = str(m, "from");

	span(num(m, "age"), age, sizeof(age));
	if (flag(m, "held"))
		snprintf(next, sizeof(next), "held");
	else if (flag(m, "active"))
		snprintf(next, sizeof(next), "sending");
	else if (num(m, "next_attempt") <= (double)now)
		snprintf(next, sizeof(next), "due");
	else {
		char in[16];
		span(num(m, "next_attempt") - (double)now, in, sizeof(in));
		snprintf(next, sizeof(next), "in %s", in);
	}
	printf("%-20s %9.0f %5s %8.0f  %-8s %s (%.0f recipient%s)\n", str(m, "id"), num(m, "size"),
		age, num(m, "attempts"), next, *from ? from : "<>", num(m, "recipients"),
		num(m, "recipients") == 1 ? "" : "s");
	if (*str(m, "last_error"))
		printf("%20s last error: %s\n", "", str(m, "last_error"));
}

static int print_list(const cJSON *root)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "messages"), *m;
	time_t now = time(NULL);
	double bytes = 0;
	int n = 0;

	if (!cJSON_IsArray(arr))
		return 1;
	if (cJSON_GetArraySize(arr) == 0) {
		printf("Queue is empty.\n");
		return 0;
	}
	printf("%-20s %9s %5s %8s  %-8s %s\n", "ID", "SIZE", "AGE", "ATTEMPTS", "NEXT", "FROM");
	cJSON_ArrayForEach(m, arr) {
		print_entry(m, now);
		bytes += num(m, "size");
		n++;
	}
	printf("%d message%s, %.0f bytes.\n", n, n == 1 ? "" : "s", bytes);
	return 0;
}

static int print_show(const cJSON *m)
{
	const cJSON *rc = cJSON_GetObjectItemCaseSensitive(m, "rcpts"), *r;
	const char *batches = str(m, "batches");
	time_t now = time(NULL);
	int i = 0;

	print_entry(m, now);
	printf("batches: %s (P pending, D accepted by SES, F failed)\n", *batches ? batches : "?");
	cJSON_ArrayForEach(r, rc) {
		size_t b = (size_t)i / 50;
		printf("  %-4s %s\n", b < strlen(batches) ? (char[]){ batches[b], '\0' } : "?",
			cJSON_IsString(r) ? r->valuestring : "");
		i++;
	}
	return 0;
}

int cmd_queue(const char *config_path, int argc, char **argv)
{
	const char *sub = NULL, *id = NULL;
	bool json = false;
	struct config cfg;
	struct buf answer = BUF_INIT;
	char err[1024], request[128];
	cJSON *root;
	int r, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		print_usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (sub == NULL)
			sub = argv[i];
		else if (id == NULL)
			id = argv[i];
		else
			return usage();
	}
	if (sub == NULL)
		return usage();
	if (strcmp(sub, "list") == 0 ? id != NULL :
	    strcmp(sub, "flush") == 0 ? false :
	    (strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0 || strcmp(sub, "hold") == 0 ||
	     strcmp(sub, "release") == 0) ? id == NULL : true)
		return usage();
	if (id && !queue_id_valid(id)) {
		fprintf(stderr, "sesrelay queue: %s is not a queue id\n", id);
		return 2;
	}
	if (config_load(&cfg, config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "sesrelay queue: %s\n", err);
		return 2;
	}
	if (cfg.delivery != DELIVERY_QUEUE) {
		fprintf(stderr, "sesrelay queue: the configuration does not use delivery queue\n");
		config_free(&cfg);
		return 2;
	}
	snprintf(request, sizeof(request), "%s%s%s\n", sub, id ? " " : "", id ? id : "");
	r = ask(cfg.queue_dir, request, &answer);
	if (r) {
		fprintf(stderr, "sesrelay queue: cannot reach the relay at %s/%s: %s\n",
			cfg.queue_dir, QUEUE_CONTROL_NAME, strerror(-r));
		config_free(&cfg);
		buf_free(&answer);
		return 1;
	}
	config_free(&cfg);
	root = cJSON_ParseWithLength(answer.data, answer.len);
	if (root == NULL) {
		fprintf(stderr, "sesrelay queue: unreadable answer from the relay\n");
		buf_free(&answer);
		return 1;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "error")) {
		fprintf(stderr, "sesrelay queue: %s%s%s\n", id ? id : "", id ? ": " : "",
			str(root, "error"));
		rc = 1;
	} else if (json) {
		fwrite(answer.data, 1, answer.len, stdout);
		rc = 0;
	} else if (strcmp(sub, "list") == 0) {
		rc = print_list(root);
	} else if (strcmp(sub, "show") == 0) {
		rc = print_show(root);
	} else {
		printf("%s%s%s: %s\n", id ? id : "every message", "", "", strcmp(sub, "flush") == 0 ?
			"due now" : strcmp(sub, "delete") == 0 ? "deleted" :
			strcmp(sub, "hold") == 0 ? "on hold" : "released");
		rc = 0;
	}
	cJSON_Delete(root);
	buf_free(&answer);
	return rc;
}
