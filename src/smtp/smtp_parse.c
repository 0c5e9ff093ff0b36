#include "smtp_parse.h"

#include "smtp_address.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static const struct smtp_reply r_bad_chars = { 500, "5.5.2", "Syntax error: invalid characters in command" };
static const struct smtp_reply r_mail_syntax = { 501, "5.5.4", "Syntax: MAIL FROM:<address>" };
static const struct smtp_reply r_rcpt_syntax = { 501, "5.5.4", "Syntax: RCPT TO:<address>" };
static const struct smtp_reply r_bad_sender = { 501, "5.1.7", "Bad sender address syntax" };
static const struct smtp_reply r_bad_rcpt = { 501, "5.1.3", "Bad recipient address syntax" };
static const struct smtp_reply r_long_sender = { 501, "5.1.7", "Sender address too long" };
static const struct smtp_reply r_long_rcpt = { 501, "5.1.3", "Recipient address too long" };
/* RFC 6531 §3.5: no SMTPUTF8 here (SES has none), so no UTF-8 mailbox. */
static const struct smtp_reply r_utf8 = { 553, "5.6.7", "Non-ASCII local part not supported (no SMTPUTF8)" };
static const struct smtp_reply r_idna_sender = { 553, "5.1.7", "Sender domain is not a valid internationalized domain name" };
static const struct smtp_reply r_idna_rcpt = { 553, "5.1.3", "Recipient domain is not a valid internationalized domain name" };
static const struct smtp_reply r_param = { 555, "5.5.4", "Unsupported parameter" };
static const struct smtp_reply r_param_syntax = { 501, "5.5.4", "Syntax error in parameter" };
static const struct smtp_reply r_param_dup = { 501, "5.5.4", "Duplicate parameter" };
static const struct smtp_reply r_helo = { 501, "5.5.4", "Syntax: EHLO hostname" };
static const struct smtp_reply r_bdat = { 501, "5.5.4", "Syntax: BDAT size [LAST]" };
static const struct smtp_reply r_auth = { 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]" };

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "HELP", SMTP_HELP }, { "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
	/* An HTTP client (or a browser tricked into talking to us) is not a
	 * mail client: hang up rather than answer line by line. */
	{ "GET", SMTP_NON_SMTP }, { "POST", SMTP_NON_SMTP }, { "HEAD", SMTP_NON_SMTP },
	{ "PUT", SMTP_NON_SMTP }, { "CONNECT", SMTP_NON_SMTP }, { "OPTIONS", SMTP_NON_SMTP },
};

const char *smtp_verb_name(enum smtp_verb v)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

int smtp_cmd_split(const char *line, size_t len, struct smtp_cmd *cmd,
	const struct smtp_reply **err)
{
	size_t vlen = 0;

	cmd->verb = SMTP_UNKNOWN;
	cmd->args = "";
	cmd->argslen = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*err = &r_bad_chars;
			return -EINVAL;
		}
	}
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == vlen && strncasecmp(line, verbs[i].name, vlen) == 0) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}
	if (vlen < len) {
		size_t n = len - vlen - 1;
		const char *a = line + vlen + 1;
		while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
			n--;
		cmd->args = a;
		cmd->argslen = n;
	}
	return 0;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext */
static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Length of the well-formed UTF-8 sequence at p (2..4 bytes), 0 if bad.
 * Rejects overlongs, surrogates and code points past U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t l;
	unsigned cp;

	if (c >= 0xc2 && c <= 0xdf) {
		l = 2; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		l = 3; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		l = 4; cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < l)
		return 0;
	for (size_t i = 1; i < l; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return l;
}

struct cursor {
	const unsigned char *p;
	size_t n;
	bool utf8;		/* non-ASCII allowed */
};

/* One UTF-8 sequence if allowed; returns its length or 0. */
static size_t take_utf8(struct cursor *c)
{
	if (c->n == 0 || c->p[0] < 0x80)
		return 0;
	return utf8_len(c->p, c->n);
}

/* sub-domain = Let-dig [Ldh-str], U-labels allowed as whole UTF-8 chars. */
static int parse_domain(struct cursor *c)
{
	size_t start_n = c->n;

	for (;;) {
		size_t label = 0;
		bool last_hyphen = false;

		for (;;) {
			size_t l;
			if (c->n && (is_alpha(c->p[0]) || is_digit(c->p[0]))) {
				c->p++; c->n--; label++;
				last_hyphen = false;
			} else if (c->n && c->p[0] == '-' && label > 0) {
				c->p++; c->n--; label++;
				last_hyphen = true;
			} else if ((l = take_utf8(c)) > 0) {
				c->p += l; c->n -= l; label += l;
				last_hyphen = false;
			} else {
				break;
			}
		}
		if (label == 0 || label > 63 || last_hyphen)
			return -EINVAL;
		if (c->n && c->p[0] == '.') {
			c->p++; c->n--;
			continue;
		}
		break;
	}
	return start_n - c->n > SMTP_MAX_DOMAIN ? -E2BIG : 0;
}

/* address-literal: "[" 1*(dcontent) "]", content checked loosely
 * (digits, hex, ':', '.', and the "IPv6:" tag). */
static int parse_addr_literal(struct cursor *c)
{
	size_t len = 0;

	if (c->n == 0 || c->p[0] != '[')
		return -EINVAL;
	c->p++; c->n--;
	while (c->n && c->p[0] != ']') {
		unsigned char ch = c->p[0];
		if (!(is_alpha(ch) || is_digit(ch) || ch == ':' || ch == '.'))
			return -EINVAL;
		c->p++; c->n--; len++;
	}
	if (c->n == 0 || len == 0)
		return -EINVAL;
	c->p++; c->n--;
	return 0;
}

static int parse_local(struct cursor *c)
{
	size_t start_n = c->n;

	if (c->n && c->p[0] == '"') {
		c->p++; c->n--;
		for (;;) {
			size_t l;
			if (c->n == 0)
				return -EINVAL;
			if (c->p[0] == '"') {
				c->p++; c->n--;
				break;
			}
			if (c->p[0] == '\\') {
				if (c->n < 2 || c->p[1] < 32 || c->p[1] > 126)
					return -EINVAL;
				c->p += 2; c->n -= 2;
			} else if (c->p[0] >= 32 && c->p[0] <= 126) {
				c->p++; c->n--;
			} else if ((l = take_utf8(c)) > 0) {
				c->p += l; c->n -= l;
			} else {
				return -EINVAL;
			}
		}
	} else {
		bool need_atom = true;
		for (;;) {
			size_t l;
			if (c->n && is_atext(c->p[0])) {
				c->p++; c->n--;
				need_atom = false;
			} else if ((l = take_utf8(c)) > 0) {
				c->p += l; c->n -= l;
				need_atom = false;
			} else if (c->n && c->p[0] == '.' && !need_atom) {
				c->p++; c->n--;
				need_atom = true;
			} else {
				break;
			}
		}
		if (need_atom)
			return -EINVAL;
	}
	return start_n - c->n > SMTP_MAX_LOCAL ? -E2BIG : 0;
}

/* Path = "<" [ A-d-l ":" ] Mailbox ">"; the source route is dropped
 * (RFC 5321 §3.3: servers SHOULD ignore it). `null_ok`: "<>" allowed.
 * `postmaster_ok`: bare "<Postmaster>" allowed (RFC 5321 §4.1.1.3). */
static int parse_path(struct cursor *c, char *out, bool null_ok, bool postmaster_ok)
{
	const unsigned char *start;
	size_t mlen;
	int r;

	/* Not even <...>: a command syntax error rather than a bad address. */
	if (c->n == 0 || c->p[0] != '<' || memchr(c->p, '>', c->n) == NULL)
		return -EBADMSG;
	c->p++; c->n--;
	if (c->n && c->p[0] == '>' && null_ok) {
		c->p++; c->n--;
		out[0] = '\0';
		return 0;
	}
	if (c->n >= 11 && postmaster_ok && strncasecmp((const char *)c->p, "postmaster>", 11) == 0) {
		memcpy(out, c->p, 10);
		out[10] = '\0';
		c->p += 11; c->n -= 11;
		return 0;
	}
	if (c->n && c->p[0] == '@') {
		for (;;) {
			c->p++; c->n--;		/* the '@' */
			if ((r = parse_domain(c)) != 0)
				return -EINVAL;
			if (c->n && c->p[0] == ',') {
				c->p++; c->n--;
				if (c->n == 0 || c->p[0] != '@')
					return -EINVAL;
				continue;
			}
			if (c->n && c->p[0] == ':') {
				c->p++; c->n--;
				break;
			}
			return -EINVAL;
		}
	}
	start = c->p;
	if ((r = parse_local(c)) != 0)
		return r;
	if (c->n == 0 || c->p[0] != '@')
		return -EINVAL;
	c->p++; c->n--;
	r = c->n && c->p[0] == '[' ? parse_addr_literal(c) : parse_domain(c);
	if (r)
		return r;
	if (c->n == 0 || c->p[0] != '>')
		return -EINVAL;
	mlen = (size_t)(c->p - start);
	if (mlen + 2 > SMTP_MAX_PATH)
		return -E2BIG;
	memcpy(out, start, mlen);
	out[mlen] = '\0';
	c->p++; c->n--;
	return 0;
}

struct param {
	const char *kw;
	size_t kwlen;
	const char *val;	/* NULL if no '=' */
	size_t vallen;
};

/* Next SP-separated esmtp-param. 1 if one was read, 0 at end, -EINVAL. */
static int next_param(struct cursor *c, struct param *p)
{
	while (c->n && c->p[0] == ' ') {
		c->p++; c->n--;
	}
	if (c->n == 0)
		return 0;
	p->kw = (const char *)c->p;
	p->val = NULL;
	p->vallen = 0;
	if (!(is_alpha(c->p[0]) || is_digit(c->p[0])))
		return -EINVAL;
	while (c->n && (is_alpha(c->p[0]) || is_digit(c->p[0]) || c->p[0] == '-')) {
		c->p++; c->n--;
	}
	p->kwlen = (size_t)((const char *)c->p - p->kw);
	if (c->n && c->p[0] == '=') {
		c->p++; c->n--;
		p->val = (const char *)c->p;
		while (c->n && c->p[0] != ' ') {
			/* esmtp-value: %d33-60 / %d62-126, UTF-8 under SMTPUTF8 */
			if (c->p[0] < 33 || c->p[0] == '=' || c->p[0] == 127)
				return -EINVAL;
			if (c->p[0] > 127) {
				size_t l = take_utf8(c);
				if (l == 0 || !c->utf8)
					return -EINVAL;
				c->p += l; c->n -= l;
				continue;
			}
			c->p++; c->n--;
		}
		p->vallen = (size_t)((const char *)c->p - p->val);
		if (p->vallen == 0)
			return -EINVAL;
	}
	if (c->n && c->p[0] != ' ')
		return -EINVAL;
	return 1;
}

static bool kw_is(const struct param *p, const char *name)
{
	return strlen(name) == p->kwlen && strncasecmp(p->kw, name, p->kwlen) == 0;
}

static bool val_is(const struct param *p, const char *v)
{
	return p->val && strlen(v) == p->vallen && strncasecmp(p->val, v, p->vallen) == 0;
}

/* "FROM:" / "TO:" prefix, then optional blanks. */
static int take_prefix(struct cursor *c, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (c->n < pl || strncasecmp((const char *)c->p, prefix, pl) != 0)
		return -EINVAL;
	c->p += pl; c->n -= pl;
	while (c->n && c->p[0] == ' ') {
		c->p++; c->n--;
	}
	return 0;
}

/* The mailbox as SES takes it: ASCII, domain as A-labels. */
static int to_ascii(char *addr, const struct smtp_reply *bad_domain, const struct smtp_reply **err)
{
	int r = smtp_address_to_ascii(addr, SMTP_MAX_PATH);

	if (r == 0)
		return 0;
	*err = r == SMTP_ADDRESS_UTF8_LOCAL ? &r_utf8 : bad_domain;
	return -EINVAL;
}

int smtp_parse_mail(const char *args, size_t len, struct smtp_mail *out,
	const struct smtp_reply **err)
{
	struct cursor c = { (const unsigned char *)args, len, false };
	struct param p;
	bool seen_size = false, seen_body = false, seen_auth = false;
	int r;

	memset(out, 0, sizeof(*out));
	if (take_prefix(&c, "FROM:")) {
		*err = &r_mail_syntax;
		return -EINVAL;
	}
	/* UTF-8 is parsed in the address (RFC 6531 syntax) so that it can
	 * be answered precisely below; parameters stay ASCII. */
	c.utf8 = true;
	r = parse_path(&c, out->addr, true, false);
	if (r) {
		*err = r == -E2BIG ? &r_long_sender : r == -EBADMSG ? &r_mail_syntax : &r_bad_sender;
		return -EINVAL;
	}
	c.utf8 = false;
	if (c.n && c.p[0] != ' ') {
		*err = &r_bad_sender;
		return -EINVAL;
	}
	while ((r = next_param(&c, &p)) == 1) {
		bool *seen = NULL;
		if (kw_is(&p, "SIZE")) {
			uint64_t v = 0;
			if (p.val == NULL || p.vallen > 20)
				goto syntax;
			for (size_t i = 0; i < p.vallen; i++) {
				if (!is_digit((unsigned char)p.val[i]))
					goto syntax;
				if (v > (UINT64_MAX - 9) / 10)
					goto syntax;
				v = v * 10 + (uint64_t)(p.val[i] - '0');
			}
			seen = &seen_size;
			out->has_size = true;
			out->size = v;
		} else if (kw_is(&p, "BODY")) {
			if (val_is(&p, "7BIT"))
				out->body = SMTP_BODY_7BIT;
			else if (val_is(&p, "8BITMIME"))
				out->body = SMTP_BODY_8BITMIME;
			else if (val_is(&p, "BINARYMIME"))
				goto unsupported;	/* not advertised: no binary path to SES */
			else
				goto syntax;
			seen = &seen_body;
		} else if (kw_is(&p, "AUTH")) {
			/* RFC 4954 §5: accepted; we never relay the identity on. */
			if (p.val == NULL)
				goto syntax;
			seen = &seen_auth;
		} else {
			/* Includes SMTPUTF8 (SES cannot deliver UTF-8 mailboxes or
			 * headers, so it is not advertised) and the DSN parameters
			 * (RFC 3461: not advertised, SES generates its own bounces). */
			goto unsupported;
		}
		if (seen) {
			if (*seen) {
				*err = &r_param_dup;
				return -EINVAL;
			}
			*seen = true;
		}
	}
	if (r < 0)
		goto syntax;
	return to_ascii(out->addr, &r_idna_sender, err);
syntax:
	*err = &r_param_syntax;
	return -EINVAL;
unsupported:
	*err = &r_param;
	return -EINVAL;
}

int smtp_parse_rcpt(const char *args, size_t len, struct smtp_rcpt *out,
	const struct smtp_reply **err)
{
	struct cursor c = { (const unsigned char *)args, len, false };
	struct param p;
	int r;

	memset(out, 0, sizeof(*out));
	if (take_prefix(&c, "TO:")) {
		*err = &r_rcpt_syntax;
		return -EINVAL;
	}
	c.utf8 = true;		/* parse it, then decide (better reply) */
	r = parse_path(&c, out->addr, false, true);
	if (r) {
		*err = r == -E2BIG ? &r_long_rcpt : r == -EBADMSG ? &r_rcpt_syntax : &r_bad_rcpt;
		return -EINVAL;
	}
	c.utf8 = false;
	if (c.n && c.p[0] != ' ') {
		*err = &r_bad_rcpt;
		return -EINVAL;
	}
	/* No RCPT parameter is supported (DSN's NOTIFY/ORCPT included: DSN
	 * is not advertised). */
	r = next_param(&c, &p);
	if (r == 1) {
		*err = &r_param;
		return -EINVAL;
	}
	if (r < 0)
		goto syntax;
	return to_ascii(out->addr, &r_idna_rcpt, err);
syntax:
	*err = &r_param_syntax;
	return -EINVAL;
}

int smtp_parse_helo(const char *args, size_t len, const struct smtp_reply **err)
{
	if (len == 0 || len > SMTP_MAX_DOMAIN)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)args[i];
		if (ch <= 32 || ch >= 127)
			goto bad;
	}
	return 0;
bad:
	*err = &r_helo;
	return -EINVAL;
}

int smtp_parse_bdat(const char *args, size_t len, uint64_t *size, bool *last,
	const struct smtp_reply **err)
{
	size_t i = 0;
	uint64_t v = 0;

	*last = false;
	if (len == 0 || !is_digit((unsigned char)args[0]))
		goto bad;
	for (; i < len && is_digit((unsigned char)args[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(args[i] - '0');
	}
	if (i < len) {
		if (args[i] != ' ')
			goto bad;
		while (i < len && args[i] == ' ')
			i++;
		if (len - i != 4 || strncasecmp(args + i, "LAST", 4) != 0)
			goto bad;
		*last = true;
	}
	*size = v;
	return 0;
bad:
	*err = &r_bdat;
	return -EINVAL;
}

int smtp_parse_auth(const char *args, size_t len, char *mechbuf, size_t mechlen,
	const char **ir, size_t *irlen, const struct smtp_reply **err)
{
	size_t i = 0;

	*ir = NULL;
	*irlen = 0;
	while (i < len && args[i] != ' ') {
		unsigned char ch = (unsigned char)args[i];
		if (!(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_') || i + 1 >= mechlen)
			goto bad;
		mechbuf[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		i++;
	}
	if (i == 0)
		goto bad;
	mechbuf[i] = '\0';
	if (i < len) {
		i++;
		if (i >= len || memchr(args + i, ' ', len - i))
			goto bad;
		*ir = args + i;
		*irlen = len - i;
	}
	return 0;
bad:
	*err = &r_auth;
	return -EINVAL;
}

bool smtp_sender_matches(const char *addr, const char *rule)
{
	const char *at;

	if (rule[0] == '@') {
		at = strrchr(addr, '@');
		return at && strcasecmp(at + 1, rule + 1) == 0;
	}
	return strcasecmp(addr, rule) == 0;
}
