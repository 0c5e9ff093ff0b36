#include "aws_request.h"

#include <errno.h>
#include <string.h>

#include "version.h"

/* Lines are NUL-separated in one buffer; offsets become pointers at the
 * end, once the buffer has stopped moving. */
static int add(struct aws_signed_headers *h, size_t *off, const char *name, const char *v)
{
	int r;

	if (h->n == AWS_SIGNED_MAX_LINES)
		return -E2BIG;
	off[h->n] = h->store.len;
	/* Plain appends, not buf_printf: this runs for every message. */
	r = buf_puts(&h->store, name);
	if (r == 0)
		r = buf_puts(&h->store, *v ? ": " : ":");
	if (r == 0)
		r = buf_puts(&h->store, v);
	if (r == 0)
		r = buf_putc(&h->store, '\0');
	if (r == 0)
		h->n++;
	return r;
}

static void fix_pointers(struct aws_signed_headers *h, const size_t *off)
{
	for (size_t i = 0; i < h->n; i++)
		h->lines[i] = h->store.data + off[i];
	h->lines[h->n] = NULL;
}

int aws_sign_post(const struct aws_post *p, const struct aws_creds *creds, time_t now,
	struct sigv4_key *key, struct aws_signed_headers *out)
{
	struct sigv4_key local;
	struct sigv4_header sh[4];
	struct sigv4_request rq;
	struct buf auth = BUF_INIT;
	size_t off[AWS_SIGNED_MAX_LINES], nsh = 0;
	char date[17];
	int r;

	memset(out, 0, sizeof(*out));
	if (key == NULL) {
		memset(&local, 0, sizeof(local));
		key = &local;
	}
	sigv4_amz_date(now, date);
	sh[nsh++] = (struct sigv4_header){ "host", p->host };
	sh[nsh++] = (struct sigv4_header){ "x-amz-date", date };
	if (p->content_type)
		sh[nsh++] = (struct sigv4_header){ "content-type", p->content_type };
	if (creds->session_token)
		sh[nsh++] = (struct sigv4_header){ "x-amz-security-token", creds->session_token };
	rq = (struct sigv4_request){
		.method = p->method ? p->method : "POST", .path = p->path, .query = "",
		.headers = sh, .nheaders = nsh, .payload_hash = p->payload_hash,
		.region = p->region, .service = p->service, .amz_date = date,
	};
	r = sigv4_authorization(&rq, creds->access_key_id, creds->secret_access_key, key, &auth);
	if (key == &local)
		sigv4_key_clear(&local);
	if (r == 0 && p->content_type)
		r = add(out, off, "Content-Type", p->content_type);
	if (r == 0)
		r = add(out, off, "X-Amz-Date", date);
	if (r == 0)
		r = add(out, off, "Authorization", auth.data);
	if (r == 0 && creds->session_token)
		r = add(out, off, "X-Amz-Security-Token", creds->session_token);
	if (r == 0)
		r = add(out, off, "User-Agent", "sesrelay/" SESRELAY_VERSION);
	buf_free(&auth);
	if (r) {
		aws_signed_headers_free(out);
		return r;
	}
	fix_pointers(out, off);
	return 0;
}

void aws_signed_headers_free(struct aws_signed_headers *h)
{
	buf_free_secret(&h->store);
	h->n = 0;
	h->lines[0] = NULL;
}
