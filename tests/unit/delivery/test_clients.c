/* The clients file and the sender policy both front ends apply: entries
 * are read strictly, and a client may send only as its addresses and
 * @domains, checked on the envelope and on every From mailbox. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "clients.h"

static const char good[] =
	"# applications\n"
	"billing key_id=SRLYBILLING00000001 secret=abcdefghijklmnopqrstuvwxyz0123456789ABCD "
	"senders=billing@example.com,@Billing.Example.ORG configuration_set=billing-cs "
	"force_configuration_set=yes tags=app=billing,env=dev\n"
	"\n"
	"   \t\n"
	"web\tpassword=$scrypt$N=16384,r=8,p=1$c2FsdA==$a2V5 senders=@example.com\r\n";

static struct clients *load(const char *text, char *err, size_t errlen, int *r)
{
	struct clients *c = NULL;
	*r = clients_parse(text, strlen(text), "clients", &c, err, errlen);
	return c;
}

static void test_parse(void)
{
	char err[256] = "";
	int r;
	struct clients *c = load(good, err, sizeof(err), &r);
	const struct client *b, *w;

	CHECK_INT(r, 0);
	CHECK_STR(err, "");
	if (c == NULL)
		return;
	CHECK_INT(clients_count(c), 2);
	b = clients_by_name(c, "billing");
	w = clients_by_name(c, "web");
	CHECK(b != NULL && w != NULL);
	if (b == NULL || w == NULL)
		goto out;
	CHECK(b == clients_by_key_id(c, "SRLYBILLING00000001", 19));
	CHECK(clients_by_key_id(c, "SRLYBILLING0000000", 18) == NULL);
	CHECK(clients_by_key_id(c, "SRLYBILLING000000012", 20) == NULL);
	CHECK_STR(b->secret, "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
	CHECK(b->password_hash == NULL);
	CHECK_STR(b->configuration_set, "billing-cs");
	CHECK(b->force_configuration_set);
	CHECK_INT(b->ntags, 2);
	CHECK_STR(b->tags[1].name, "env");
	CHECK_STR(b->tags[1].value, "dev");
	CHECK_STR(b->senders[1], "@billing.example.org");
	CHECK(w->key_id == NULL);
	CHECK_STR(w->password_hash, "$scrypt$N=16384,r=8,p=1$c2FsdA==$a2V5");
	CHECK(!w->force_configuration_set);
out:
	clients_unref(c);
}

static void test_refused_files(void)
{
	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
		{ "a senders=a@b.c\nb\n", "clients:2: client \"b\": no senders (it could send as nobody)" },
		{ "a senders=a@b.c\na senders=a@b.c\n", "clients:2: client \"a\" given twice" },
		{ "a key_id=SRLY0000000000000001 senders=a@b.c\n", "clients:1: client \"a\": key_id and secret go together" },
		{ "a key_id=SRLY0000000000000001 secret=abcdefghijklmnopqrstuvwxyz0123456789 senders=a@b.c\n"
		  "b key_id=SRLY0000000000000001 secret=abcdefghijklmnopqrstuvwxyz0123456789 senders=a@b.c\n",
		  "clients:2: key_id of \"b\" is also that of \"a\"" },
		{ "a secret=short key_id=SRLY0000000000000001 senders=a@b.c\n", "clients:1: secret: 32 to 128 printable characters" },
		{ "a senders=nobody\n", "clients:1: senders: \"nobody\" is not an address or @domain" },
		{ "a senders=a@b.c,\n", "clients:1: senders: a comma list of up to 64 addresses or @domains" },
		{ "a senders=<a@b.c>\n", "clients:1: senders: \"<a@b.c>\" is not an address or @domain" },
		{ "a senders=a@b.c colour=blue\n", "clients:1: unknown field \"colour\"" },
		{ "a senders=a@b.c password=plain\n", "clients:1: password: not a $scrypt$ or $pbkdf2-sha256$ hash" },
		{ "a senders=a@b.c tags=x\n", "clients:1: tags: \"x\" is not NAME=VALUE (letters, digits, - _ .)" },
		{ "a senders=a@b.c force_configuration_set=maybe\n", "clients:1: force_configuration_set: yes or no" },
		{ "a/b senders=a@b.c\n", "clients:1: \"a/b\" is not a client name (letters, digits, - _ ., up to 64)" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		int r;
		struct clients *c = load(bad[i].text, err, sizeof(err), &r);
		CHECK_INT(r, -EINVAL);
		CHECK(c == NULL);
		CHECK_STR(err, bad[i].err);
	}
}

static void test_senders(void)
{
	char err[256], badaddr[64];
	int r;
	struct clients *c = load(good, err, sizeof(err), &r);
	const struct client *b;

	if (c == NULL) {
		CHECK(0);
		return;
	}
	b = clients_by_name(c, "billing");
#define MAY(s) client_may_send_as(b, s, strlen(s))
	CHECK(MAY("billing@example.com"));
	CHECK(MAY("BILLING@Example.Com"));
	CHECK(MAY("anyone@billing.example.org"));
	CHECK(!MAY("ceo@example.com"));
	CHECK(!MAY("x@sub.billing.example.org"));
	CHECK(!MAY("billing.example.org"));
	CHECK(!MAY("@billing.example.org"));
	CHECK(!MAY("billing@example.com.evil"));
#undef MAY
#define FROM(s) client_check_from(b, s, strlen(s), badaddr, sizeof(badaddr))
	CHECK_INT(FROM(" Billing <billing@example.com>"), 0);
	CHECK_INT(FROM("\"Ceo, <ceo@example.com>\" <billing@example.com>"), 0);
	CHECK_INT(FROM(" billing@example.com (Billing, Inc.)"), 0);
	CHECK_INT(FROM(" a@billing.example.org,\r\n\tBilling <billing@example.com>"), 0);
	CHECK_INT(FROM(" Billing <billing@example.com>, ceo@example.com"), -EPERM);
	CHECK_STR(badaddr, "ceo@example.com");
	CHECK_INT(FROM(" \"billing@example.com\" <ceo@example.com>"), -EPERM);
	CHECK_STR(badaddr, "ceo@example.com");
	CHECK_INT(FROM(" "), -EINVAL);
	CHECK_INT(FROM(" Billing <billing@example.com"), -EINVAL);
	CHECK_INT(FROM(" \"x y\"@example.com"), -EINVAL);
#undef FROM
	clients_unref(c);
}

static void test_message_from(void)
{
	const char *v;
	size_t n;
	const char m1[] = "Subject: hi\r\nFROM: A <a@b.c>,\r\n B <b@b.c>\r\nTo: x@y.z\r\n\r\nFrom: body@x.y\r\n";
	const char m2[] = "Subject: hi\r\n\r\nFrom: body@x.y\r\n";
	const char m3[] = "From: a@b.c\nFrom: d@e.f\n\n";

	CHECK_INT(message_from_field(m1, sizeof(m1) - 1, &v, &n), 0);
	CHECK_MEM(v, n, " A <a@b.c>,\r\n B <b@b.c>\r", sizeof(" A <a@b.c>,\r\n B <b@b.c>\r") - 1);
	CHECK_INT(message_from_field(m2, sizeof(m2) - 1, &v, &n), -ENOENT);
	CHECK_INT(message_from_field(m3, sizeof(m3) - 1, &v, &n), -EINVAL);
}

/* The recipients SES counts for a raw message without Destinations. */
static void test_header_recipients(void)
{
	static const char m1[] = "From: a@example.com\r\nTo: \"Doe, J@ne\" <j@example.com>, k@example.com\r\n"
		"Cc: team: x@example.com, (c@mment) y@example.com;\r\n"
		"BCC:\r\n z@[192.0.2.1]\r\nReply-To: r@example.com\r\n"
		"Subject: to: fake@example.com\r\n\r\nTo: body@example.com\r\n";
	static const char m2[] = "From: a@example.com\r\nSubject: none\r\n\r\n";

	CHECK_INT((int)message_header_recipients(m1, sizeof(m1) - 1), 5);
	CHECK_INT((int)message_header_recipients(m2, sizeof(m2) - 1), 0);
}

int main(void)
{
	test_parse();
	test_refused_files();
	test_senders();
	test_message_from();
	test_header_recipients();
	return check_report();
}
