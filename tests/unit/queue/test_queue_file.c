/* Queue file format: what is written parses back the same, state changes
 * rewrite only the mutable region, and truncation or corruption anywhere
 * is refused instead of misread. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "queue_file.h"

static const char *rcpts3[] = { "a@example.org", "b c\"@example.org", "\xc3\xa9t\xc3\xa9@example.org" };
static const char body[] = "Received: from x\r\nSubject: hi\r\n\r\nbody\r\n";

static void build(struct buf *f, const char *from, const char *const *rcpts, size_t n,
	unsigned batch)
{
	struct queue_meta m = {
		.id = "0123456789abcdef0123", .created = 1764979200, .mail_from = from,
		.rcpts = rcpts, .nrcpt = n, .smtputf8 = true, .body_8bit = false, .batch_size = batch,
	};

	buf_reset(f);
	CHECK_INT(queue_file_build(f, &m, body, sizeof(body) - 1), 0);
	CHECK_INT(buf_append(f, body, sizeof(body) - 1), 0);
}

static void test_roundtrip(void)
{
	struct buf f = BUF_INIT;
	struct queue_file qf;

	build(&f, "sender with space@example.com", rcpts3, 3, 2);
	/* The header is ASCII: no address byte can end a line. */
	for (size_t i = 0; i < f.len - (sizeof(body) - 1); i++)
		CHECK((unsigned char)f.data[i] < 0x80);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf), 0);
	CHECK_STR(qf.id, "0123456789abcdef0123");
	CHECK_INT(qf.created, 1764979200);
	CHECK_STR(qf.mail_from, "sender with space@example.com");
	CHECK_INT(qf.nrcpt, 3);
	CHECK_STR(qf.rcpts[1], "b c\"@example.org");
	CHECK_STR(qf.rcpts[2], "\xc3\xa9t\xc3\xa9@example.org");
	CHECK(qf.smtputf8 && !qf.body_8bit);
	CHECK_INT(qf.batch_size, 2);
	CHECK_INT(qf.nbatch, 2);
	CHECK_INT(queue_batch_count(&qf, 0), 2);
	CHECK_INT(queue_batch_count(&qf, 1), 1);
	CHECK_STR(qf.state, "PP");
	CHECK_INT(qf.attempts, 0);
	CHECK_INT(qf.next_attempt, 1764979200);
	CHECK(!qf.held);
	CHECK_STR(qf.error, "");
	CHECK_INT(qf.body_len, sizeof(body) - 1);
	CHECK_INT(qf.header_len + qf.body_len, f.len);
	CHECK_MEM(f.data + qf.header_len, qf.body_len, body, sizeof(body) - 1);
	CHECK_INT(queue_file_verify(&qf, f.data, f.len), 0);
	queue_file_free(&qf);
	buf_free(&f);
}

static void test_null_sender_and_batches(void)
{
	const char *many[120];
	char names[120][32];
	struct buf f = BUF_INIT;
	struct queue_file qf;

	for (int i = 0; i < 120; i++) {
		snprintf(names[i], sizeof(names[i]), "r%d@example.org", i);
		many[i] = names[i];
	}
	build(&f, "", many, 120, 50);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf), 0);
	CHECK_STR(qf.mail_from, "");
	CHECK_INT(qf.nbatch, 3);
	CHECK_INT(queue_batch_first(&qf, 2), 100);
	CHECK_INT(queue_batch_count(&qf, 2), 20);
	queue_file_free(&qf);
	buf_free(&f);
}

/* The mutable region is rewritten in place and parses back. */
static void test_update_in_place(void)
{
	struct buf f = BUF_INIT;
	struct queue_file qf, qf2;
	size_t len;

	build(&f, "s@example.com", rcpts3, 3, 1);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf), 0);
	len = f.len;
	qf.state[1] = QB_DONE;
	qf.state[2] = QB_FAILED;
	qf.attempts = 7;
	qf.next_attempt = 1764999999;
	qf.held = true;
	queue_file_set_error(&qf, "451 4.4.5 sending rate exceeded\r\n(Throttling)");
	queue_file_mut_render(&qf, f.data + qf.mut_off);
	CHECK_INT(f.len, len);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf2), 0);
	CHECK_STR(qf2.state, "PDF");
	CHECK_INT(qf2.attempts, 7);
	CHECK_INT(qf2.next_attempt, 1764999999);
	CHECK(qf2.held);
	CHECK_STR(qf2.error, "451 4.4.5 sending rate exceeded?" "?(Throttling)");
	/* The sum does not cover the mutable region. */
	CHECK_INT(queue_file_verify(&qf2, f.data, f.len), 0);
	/* The hold byte is where queue_file_hold_off() says. */
	f.data[queue_file_hold_off(&qf2)] = '0';
	queue_file_free(&qf2);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf2), 0);
	CHECK(!qf2.held);
	queue_file_free(&qf2);
	/* A torn write mixing old and new digits still parses. */
	memcpy(f.data + qf.mut_off + 6 + 3 + 1 + 9, "0000000099", 10);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf2), 0);
	CHECK_INT(qf2.attempts, 99);
	queue_file_free(&qf2);
	queue_file_free(&qf);
	buf_free(&f);
}

/* Every truncation is either "need more" (header cut) or refused by
 * verify (body cut); none parses as a different message. */
static void test_truncation(void)
{
	struct buf f = BUF_INIT;
	struct queue_file qf;

	build(&f, "s@example.com", rcpts3, 3, 50);
	for (size_t n = 0; n < f.len; n++) {
		int r = queue_file_parse(f.data, n, &qf);
		if (r == 0) {
			CHECK_INT(queue_file_verify(&qf, f.data, n), -EBADMSG);
			queue_file_free(&qf);
		} else {
			CHECK_INT(r, -EAGAIN);
		}
	}
	buf_free(&f);
}

/* Flipping any byte outside the mutable region is caught. */
static void test_corruption(void)
{
	struct buf f = BUF_INIT;
	struct queue_file qf;
	size_t mut_off, mut_end, caught = 0, tried = 0;

	build(&f, "s@example.com", rcpts3, 3, 50);
	CHECK_INT(queue_file_parse(f.data, f.len, &qf), 0);
	mut_off = qf.mut_off;
	mut_end = qf.header_len;
	queue_file_free(&qf);
	for (size_t i = 0; i < f.len; i++) {
		if (i >= mut_off && i < mut_end)
			continue;
		tried++;
		f.data[i] ^= 0x01;
		if (queue_file_parse(f.data, f.len, &qf) != 0) {
			caught++;
		} else {
			caught += queue_file_verify(&qf, f.data, f.len) == -EBADMSG;
			queue_file_free(&qf);
		}
		f.data[i] ^= 0x01;
	}
	CHECK_INT(caught, tried);
	buf_free(&f);
}

static void test_refusals(void)
{
	struct buf f = BUF_INIT;
	struct queue_file qf;
	const char *bad[] = {
		"",
		"sesrelay-queue 2\n",
		"sesrelay-queue 1\nid 0123456789ABCDEF0123\n",
		"sesrelay-queue 1\nid 0123456789abcdef0123\ncreated x\n",
		"sesrelay-queue 1\nid 0123456789abcdef0123\ncreated 1\nfrom a%0Ab\n",
		"sesrelay-queue 1\nid 0123456789abcdef0123\ncreated 1\nfrom a%00\n",
		"sesrelay-queue 1\nid 0123456789abcdef0123\ncreated 1\nfrom %\n",
		"sesrelay-queue 1\nid 0123456789abcdef0123\ncreated 1\nfrom \nutf8 0\n8bit 0\nbatch 50\n",
	};
	struct queue_meta m = {
		.id = "0123456789abcdef0123", .mail_from = "", .rcpts = rcpts3, .nrcpt = 3,
		.batch_size = 51,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = queue_file_parse(bad[i], strlen(bad[i]), &qf);
		CHECK(r == -EBADMSG || (i == 0 && r == -EAGAIN));
	}
	CHECK_INT(queue_file_build(&f, &m, "", 0), -EINVAL);
	m.batch_size = 50;
	m.nrcpt = 0;
	CHECK_INT(queue_file_build(&f, &m, "", 0), -EINVAL);
	buf_free(&f);
}

/* Files written independently (proto/queue/, made from the format's
 * description) parse and verify. */
static void test_seed_files(void)
{
	static const struct { const char *name; const char *state; bool held; } want[] = {
		{ "simple.q", "P", false }, { "batches.q", "DFP", true }, { "escaped.q", "PP", false },
	};
	static char b[1 << 16];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char path[512];
		struct queue_file qf;
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "%s/proto/queue/%s", PROJECT_ROOT, want[i].name);
		f = fopen(path, "rb");
		CHECK(f != NULL);
		if (f == NULL)
			continue;
		n = fread(b, 1, sizeof(b), f);
		fclose(f);
		CHECK_INT(queue_file_parse(b, n, &qf), 0);
		CHECK_INT(queue_file_verify(&qf, b, n), 0);
		CHECK_STR(qf.state, want[i].state);
		CHECK_INT(qf.held, want[i].held);
		queue_file_free(&qf);
	}
}

int main(void)
{
	test_seed_files();
	test_roundtrip();
	test_null_sender_and_batches();
	test_update_in_place();
	test_truncation();
	test_corruption();
	test_refusals();
	return check_report();
}
