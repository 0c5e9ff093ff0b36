/* The API front's pure half: which requests are routed and which refused,
 * how each is rewritten under the caller's policy before it is signed for
 * the shared account (relay's ARNs, configuration set, tags, senders,
 * X-SES-* headers), Pinpoint split into SESv2 sends and answered as a
 * MessageResponse, and errors in each API's shape. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "api_pinpoint.h"
#include "api_reply.h"
#include "api_route.h"
#include "api_translate.h"
#include "aws_query.h"
#include "check.h"
#include "clients.h"
#include "config.h"

static struct config cfg;
static struct clients *clients;
static struct api_policy pol;

#define SHARED_ARN "arn:aws:ses:eu-west-1:111111111111:identity/example.com"

static void setup(void)
{
	const char *text = "billing key_id=SRLYBILLING00000001 secret=abcdefghijklmnopqrstuvwxyz0123456789ABCD "
		"senders=billing@example.com,@billing.example.org configuration_set=billing-cs "
		"force_configuration_set=yes tags=app=billing\n"
		"web senders=@example.com configuration_set=web-cs\n";
	char err[256];

	config_defaults(&cfg);
	config_set(&cfg, "source_arn", SHARED_ARN, err, sizeof(err));
	config_set(&cfg, "message_tags", "relay=sesrelay,app=relay", err, sizeof(err));
	if (clients_parse(text, strlen(text), "clients", &clients, err, sizeof(err)))
		fprintf(stderr, "clients: %s\n", err);
	pol.cfg = &cfg;
	pol.client = clients_by_name(clients, "billing");
}

static void test_routes(void)
{
	struct api_route r;

	api_route("POST", "/", 1, &r);
	CHECK_INT(r.api, API_SES);
	CHECK_INT(r.action, API_ACT_V1_PENDING);
	api_route_v1_action(&r, "SendRawEmail", 12);
	CHECK_INT(r.action, API_ACT_SEND_RAW_EMAIL);
	CHECK_STR(r.name, "SendRawEmail");
	api_route_v1_action(&r, "DeleteIdentity", 14);
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_route("GET", "/", 1, &r);
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_route("POST", "/v2/email/outbound-emails", 25, &r);
	CHECK_INT(r.api, API_SESV2);
	CHECK_INT(r.action, API_ACT_V2_SEND_EMAIL);
	CHECK_STR(r.service, "ses");
	api_route("POST", "/v2/email/identities", 20, &r);
	CHECK_INT(r.api, API_SESV2);
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_route("GET", "/v2/email/account", 17, &r);
	CHECK_INT(r.action, API_ACT_V2_GET_ACCOUNT);
	api_route("DELETE", "/v2/email/account", 17, &r);
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_route("POST", "/v1/apps/0123456789abcdef0123456789abcdef/messages", 50, &r);
	CHECK_INT(r.api, API_PINPOINT);
	CHECK_INT(r.action, API_ACT_PINPOINT_SEND_MESSAGES);
	CHECK_STR(r.app_id, "0123456789abcdef0123456789abcdef");
	CHECK_STR(r.service, "mobiletargeting");
	api_route("POST", "/v1/apps/abc/users-messages", 27, &r);
	CHECK_INT(r.api, API_PINPOINT);
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_route("POST", "/v1/apps/a%2Fb/messages", 23, &r);
	CHECK_INT(r.action, API_ACT_REFUSED);
}

static int v1(const char *body, struct api_forward *fw, struct api_refusal *why, struct api_route *r)
{
	api_route("POST", "/", 1, r);
	api_forward_init(fw);
	memset(why, 0, sizeof(*why));
	return api_translate_ses(&pol, r, body, strlen(body), fw, why);
}

static const char *param(const struct aws_form *f, const char *k)
{
	const struct aws_form_param *p = aws_form_get(f, k);
	return p ? p->value : "(none)";
}

static void test_v1_send_email(void)
{
	struct api_forward fw;
	struct api_refusal why;
	struct api_route r;
	struct aws_form f;
	char hash[65];

	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=Billing+%3Cbilling%40example.com%3E"
		"&Destination.ToAddresses.member.1=a%40x.org&Message.Subject.Data=Hi"
		"&Message.Body.Text.Data=Hello&ConfigurationSetName=mine"
		"&Tags.member.1.Name=app&Tags.member.1.Value=caller&Tags.member.2.Name=kind&Tags.member.2.Value=x",
		&fw, &why, &r), 0);
	CHECK_INT(r.action, API_ACT_SEND_EMAIL);
	CHECK_STR(fw.path, "/");
	CHECK_INT(aws_form_parse(fw.body.data, fw.body.len, 100, &f), 0);
	CHECK_STR(param(&f, "Source"), "Billing <billing@example.com>");
	CHECK_STR(param(&f, "SourceArn"), SHARED_ARN);
	/* forced by the client's policy */
	CHECK_STR(param(&f, "ConfigurationSetName"), "billing-cs");
	/* the caller's tags, then the relay's, then the client's, by name */
	CHECK_STR(param(&f, "Tags.member.1.Name"), "app");
	CHECK_STR(param(&f, "Tags.member.1.Value"), "billing");
	CHECK_STR(param(&f, "Tags.member.2.Name"), "kind");
	CHECK_STR(param(&f, "Tags.member.3.Name"), "relay");
	CHECK_STR(param(&f, "Tags.member.3.Value"), "sesrelay");
	CHECK_STR(param(&f, "Tags.member.4.Name"), "(none)");
	CHECK_STR(param(&f, "Message.Body.Text.Data"), "Hello");
	sigv4_sha256_hex(fw.body.data, fw.body.len, hash);
	CHECK_STR(fw.payload_hash, hash);
	aws_form_free(&f);
	api_forward_free(&fw);

	/* a sender outside the policy, as Source */
	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=ceo%40example.com"
		"&Destination.ToAddresses.member.1=a%40x.org&Message.Subject.Data=Hi&Message.Body.Text.Data=x",
		&fw, &why, &r), -EPERM);
	CHECK_INT(why.status, 403);
	CHECK_STR(why.code, "AccessDenied");
	CHECK_STR(why.message, "sesrelay: billing may not send as ceo@example.com");
	api_forward_free(&fw);
	/* the caller's identity ARN when it differs from the relay's */
	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=billing%40example.com"
		"&SourceArn=arn%3Aaws%3Ases%3Aeu-west-1%3A222222222222%3Aidentity%2Fexample.com",
		&fw, &why, &r), -EINVAL);
	CHECK_INT(why.status, 400);
	CHECK_STR(why.code, "InvalidParameterValue");
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=billing%40example.com"
		"&SourceArn=" SHARED_ARN, &fw, &why, &r), 0);
	api_forward_free(&fw);
	/* actions that are not sending: refused, 403 */
	CHECK_INT(v1("Action=DeleteIdentity&Version=2010-12-01&Identity=example.com", &fw, &why, &r), -EPERM);
	CHECK_STR(why.code, "AccessDenied");
	CHECK_INT(r.action, API_ACT_REFUSED);
	api_forward_free(&fw);
	CHECK_INT(v1("Action=VerifyEmailIdentity&Version=2010-12-01", &fw, &why, &r), -EPERM);
	api_forward_free(&fw);
	CHECK_INT(v1("Version=2010-12-01", &fw, &why, &r), -EPERM);
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=%zz", &fw, &why, &r), -EINVAL);
	CHECK_STR(why.code, "MalformedQueryString");
	api_forward_free(&fw);
	CHECK_INT(v1("Action=GetSendQuota&Version=2010-12-01", &fw, &why, &r), 0);
	CHECK_STR(fw.body.data, "Action=GetSendQuota&Version=2010-12-01");
	api_forward_free(&fw);
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n / 3 * 4 + 5);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static void test_v1_raw(void)
{
	struct api_forward fw;
	struct api_refusal why;
	struct api_route r;
	struct aws_form f;
	struct buf body = BUF_INIT, esc = BUF_INIT;
	char *enc = b64("From: Billing <billing@example.com>\r\nX-SES-CONFIGURATION-SET: other\r\n"
		"To: a@x.org\r\nSubject: hi\r\n\r\nbody\r\n");
	char *bad = b64("From: ceo@example.com\r\nTo: a@x.org\r\n\r\nbody\r\n");
	char *nofrom = b64("To: a@x.org\r\n\r\nbody\r\n");

	aws_query_escape(&esc, enc, strlen(enc));
	buf_printf(&body, "Action=SendRawEmail&Version=2010-12-01&Destinations.member.1=a%%40x.org"
		"&RawMessage.Data=%s", esc.data);
	CHECK_INT(v1(body.data, &fw, &why, &r), 0);
	CHECK_INT(aws_form_parse(fw.body.data, fw.body.len, 100, &f), 0);
	CHECK_STR(param(&f, "Destinations.member.1"), "a@x.org");
	CHECK_STR(param(&f, "SourceArn"), SHARED_ARN);
	CHECK_STR(param(&f, "ConfigurationSetName"), "billing-cs");
	{
		char *want = b64("From: Billing <billing@example.com>\r\nTo: a@x.org\r\nSubject: hi\r\n\r\nbody\r\n");
		CHECK_STR(param(&f, "RawMessage.Data"), want);
		free(want);
	}
	aws_form_free(&f);
	api_forward_free(&fw);

	buf_reset(&body);
	buf_reset(&esc);
	aws_query_escape(&esc, bad, strlen(bad));
	buf_printf(&body, "Action=SendRawEmail&Version=2010-12-01&Source=billing%%40example.com"
		"&RawMessage.Data=%s", esc.data);
	CHECK_INT(v1(body.data, &fw, &why, &r), -EPERM);
	CHECK_STR(why.message, "sesrelay: billing may not send as ceo@example.com");
	api_forward_free(&fw);

	buf_reset(&body);
	buf_reset(&esc);
	aws_query_escape(&esc, nofrom, strlen(nofrom));
	buf_printf(&body, "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=%s", esc.data);
	CHECK_INT(v1(body.data, &fw, &why, &r), -EINVAL);
	CHECK_STR(why.message, "the raw message has no From header");
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=%21%21", &fw, &why, &r), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendRawEmail&Version=2010-12-01&Identity=x&RawMessage.Data=", &fw, &why, &r), -EINVAL);
	CHECK_STR(why.message, "parameter Identity is not one of SendRawEmail's");
	api_forward_free(&fw);
	buf_free(&body);
	buf_free(&esc);
	free(enc);
	free(bad);
	free(nofrom);
}

static int v2(const char *path, const char *body, struct api_forward *fw, struct api_refusal *why,
	cJSON **out)
{
	struct api_route r;
	int rc;

	api_route("POST", path, strlen(path), &r);
	api_forward_init(fw);
	memset(why, 0, sizeof(*why));
	rc = api_translate_sesv2(&pol, &r, body, strlen(body), fw, why);
	*out = rc == 0 ? cJSON_ParseWithLength(fw->body.data, fw->body.len) : NULL;
	return rc;
}

static const char *jstr(const cJSON *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path = dot + 1;
	}
	o = cJSON_GetObjectItemCaseSensitive(o, path);
	return cJSON_IsString(o) ? o->valuestring : "(none)";
}

static void test_v2(void)
{
	struct api_forward fw;
	struct api_refusal why;
	cJSON *o;
	const cJSON *tags;
	char *raw = b64("From: billing@example.com\r\nX-SES-TAGS: a=b\r\n\r\nx\r\n");
	char *raw_bad = b64("From: x@evil.example\r\n\r\nx\r\n");
	struct buf body = BUF_INIT;

	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"Destination\":{\"ToAddresses\":[\"a@x.org\"]},\"Content\":{\"Simple\":{\"Subject\":"
		"{\"Data\":\"Hi\"},\"Body\":{\"Text\":{\"Data\":\"x\"}}}},\"EmailTags\":[{\"Name\":\"k\",\"Value\":\"v\"}]}",
		&fw, &why, &o), 0);
	CHECK_STR(fw.path, "/v2/email/outbound-emails");
	CHECK_STR(jstr(o, "FromEmailAddressIdentityArn"), SHARED_ARN);
	CHECK_STR(jstr(o, "ConfigurationSetName"), "billing-cs");
	CHECK_STR(jstr(o, "Content.Simple.Subject.Data"), "Hi");
	tags = cJSON_GetObjectItemCaseSensitive(o, "EmailTags");
	CHECK_INT(cJSON_GetArraySize(tags), 3);
	CHECK_STR(jstr(cJSON_GetArrayItem(tags, 0), "Name"), "k");
	CHECK_STR(jstr(cJSON_GetArrayItem(tags, 2), "Value"), "billing");
	cJSON_Delete(o);
	api_forward_free(&fw);

	buf_printf(&body, "{\"Content\":{\"Raw\":{\"Data\":\"%s\"}}}", raw);
	CHECK_INT(v2("/v2/email/outbound-emails", body.data, &fw, &why, &o), 0);
	{
		char *want = b64("From: billing@example.com\r\n\r\nx\r\n");
		CHECK_STR(jstr(o, "Content.Raw.Data"), want);
		free(want);
	}
	cJSON_Delete(o);
	api_forward_free(&fw);
	buf_reset(&body);
	buf_printf(&body, "{\"Content\":{\"Raw\":{\"Data\":\"%s\"}}}", raw_bad);
	CHECK_INT(v2("/v2/email/outbound-emails", body.data, &fw, &why, &o), -EPERM);
	CHECK_STR(why.code, "AccessDeniedException");
	api_forward_free(&fw);

	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"EndpointId\":\"abc.def\",\"Content\":{\"Simple\":{}}}", &fw, &why, &o), -EINVAL);
	CHECK_STR(why.code, "BadRequestException");
	CHECK(strstr(why.message, "EndpointId") != NULL);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"TenantName\":\"t\",\"Content\":{\"Simple\":{}}}", &fw, &why, &o), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"FromEmailAddressIdentityArn\":\"arn:aws:ses:eu-west-1:222222222222:identity/example.com\","
		"\"Content\":{\"Simple\":{}}}", &fw, &why, &o), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":", &fw, &why, &o), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-bulk-emails", "{\"FromEmailAddress\":\"ceo@example.com\","
		"\"DefaultContent\":{}}", &fw, &why, &o), -EPERM);
	api_forward_free(&fw);
	/* a bulk entry may not override a tag the policy sets */
	CHECK_INT(v2("/v2/email/outbound-bulk-emails", "{\"FromEmailAddress\":\"x@billing.example.org\","
		"\"DefaultContent\":{},\"BulkEmailEntries\":[{\"ReplacementTags\":[{\"Name\":\"app\","
		"\"Value\":\"other\"}]}]}", &fw, &why, &o), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendBulkTemplatedEmail&Version=2010-12-01&Source=billing%40example.com"
		"&Template=t&Destinations.member.1.ReplacementTags.member.1.Name=relay"
		"&Destinations.member.1.ReplacementTags.member.1.Value=x", &fw, &why, &(struct api_route){0}), -EINVAL);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-bulk-emails", "{\"FromEmailAddress\":\"x@billing.example.org\","
		"\"DefaultContent\":{}}", &fw, &why, &o), 0);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "DefaultEmailTags")), 2);
	cJSON_Delete(o);
	api_forward_free(&fw);
	buf_free(&body);
	free(raw);
	free(raw_bad);
}

static void test_pinpoint(void)
{
	struct api_pinpoint pp;
	struct api_refusal why;
	struct buf out = BUF_INIT;
	const char *req = "{\"Addresses\":{\"a@x.org\":{\"ChannelType\":\"EMAIL\"},"
		"\"+15550100\":{\"ChannelType\":\"SMS\"},\"b@x.org\":{\"ChannelType\":\"EMAIL\"}},"
		"\"MessageConfiguration\":{\"EmailMessage\":{\"FromAddress\":\"billing@example.com\","
		"\"SimpleEmail\":{\"Subject\":{\"Charset\":\"UTF-8\",\"Data\":\"Hi\"},"
		"\"TextPart\":{\"Data\":\"text\"},\"HtmlPart\":{\"Data\":\"<p>h</p>\"}}}}}";
	cJSON *o, *res;

	CHECK_INT(api_pinpoint_split(&pol, req, strlen(req), &pp, &why), 0);
	CHECK_INT(pp.n, 3);
	if (pp.n != 3)
		return;
	CHECK_STR(pp.v[0].address, "a@x.org");
	CHECK_INT(pp.v[0].send, 1);
	CHECK_INT(pp.v[1].send, 0);
	CHECK_STR(pp.v[1].delivery_status, "PERMANENT_FAILURE");
	CHECK_STR(pp.v[1].status_message, "sesrelay sends the EMAIL channel only, not SMS");
	o = cJSON_ParseWithLength(pp.v[2].fw.body.data, pp.v[2].fw.body.len);
	CHECK_STR(jstr(o, "FromEmailAddress"), "billing@example.com");
	CHECK_STR(jstr(o, "Content.Simple.Subject.Charset"), "UTF-8");
	CHECK_STR(jstr(o, "Content.Simple.Body.Html.Data"), "<p>h</p>");
	CHECK_STR(jstr(o, "FromEmailAddressIdentityArn"), SHARED_ARN);
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(o, "Destination"), "ToAddresses"), 0)->valuestring, "b@x.org");
	cJSON_Delete(o);
	api_pinpoint_result(&pp.v[0], 200, "{\"MessageId\":\"m-1\"}", 19, NULL, NULL);
	api_pinpoint_result(&pp.v[2], 429, "", 0, "TooManyRequestsException", "slow down");
	CHECK_INT(api_pinpoint_response(&pp, "app1", "rid", &out), 0);
	o = cJSON_Parse(out.data);
	res = cJSON_GetObjectItemCaseSensitive(o, "Result");
	CHECK_STR(jstr(o, "ApplicationId"), "app1");
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(res, "a@x.org"), "DeliveryStatus"), "SUCCESSFUL");
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(res, "a@x.org"), "MessageId"), "m-1");
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(res, "b@x.org"), "DeliveryStatus"), "THROTTLED");
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(res, "+15550100"), "DeliveryStatus"), "PERMANENT_FAILURE");
	cJSON_Delete(o);
	api_pinpoint_free(&pp);
	buf_free(&out);

	/* a sender outside the policy fails each address, nothing to send */
	req = "{\"Addresses\":{\"a@x.org\":{\"ChannelType\":\"EMAIL\"}},\"MessageConfiguration\":"
		"{\"EmailMessage\":{\"FromAddress\":\"ceo@example.com\",\"SimpleEmail\":{}}}}";
	CHECK_INT(api_pinpoint_split(&pol, req, strlen(req), &pp, &why), 0);
	CHECK_INT(pp.v[0].send, 0);
	CHECK_INT(pp.v[0].status_code, 403);
	api_pinpoint_free(&pp);
	req = "{\"Addresses\":{\"a@x.org\":{\"ChannelType\":\"EMAIL\"}},\"TemplateConfiguration\":"
		"{\"EmailTemplate\":{\"Name\":\"t\"}},\"MessageConfiguration\":{}}";
	CHECK_INT(api_pinpoint_split(&pol, req, strlen(req), &pp, &why), 0);
	CHECK_INT(pp.v[0].send, 0);
	CHECK(strstr(pp.v[0].status_message, "templates") != NULL);
	api_pinpoint_free(&pp);
	req = "{\"Endpoints\":{\"e1\":{}}}";
	CHECK_INT(api_pinpoint_split(&pol, req, strlen(req), &pp, &why), -EINVAL);
	CHECK_STR(why.code, "BadRequestException");
}

/* The recipients each request counts in the send-rate governor, as SES
 * counts them: To, Cc and Bcc of every destination, or a raw message's
 * header recipients when it names no destinations. */
static void test_recipients(void)
{
	struct api_forward fw;
	struct api_refusal why;
	struct api_route r;
	struct api_pinpoint pp;
	struct buf body = BUF_INIT, esc = BUF_INIT;
	char *raw = b64("From: billing@example.com\r\nTo: a@x.org, \"B, b@\" <b@x.org>\r\n"
		"Cc: c@x.org\r\nSubject: hi\r\n\r\nTo: body@x.org\r\n");
	cJSON *o;

	CHECK_INT(v1("Action=SendEmail&Version=2010-12-01&Source=billing%40example.com"
		"&Destination.ToAddresses.member.1=a%40x.org&Destination.ToAddresses.member.2=b%40x.org"
		"&Destination.CcAddresses.member.1=c%40x.org&Destination.BccAddresses.member.1=d%40x.org"
		"&Message.Subject.Data=Hi&Message.Body.Text.Data=Hello", &fw, &why, &r), 0);
	CHECK_INT((int)fw.recipients, 4);
	api_forward_free(&fw);
	CHECK_INT(v1("Action=SendBulkTemplatedEmail&Version=2010-12-01&Source=billing%40example.com"
		"&Template=t&DefaultTemplateData=%7B%7D"
		"&Destinations.member.1.Destination.ToAddresses.member.1=a%40x.org"
		"&Destinations.member.1.Destination.BccAddresses.member.1=b%40x.org"
		"&Destinations.member.2.Destination.ToAddresses.member.1=c%40x.org", &fw, &why, &r), 0);
	CHECK_INT((int)fw.recipients, 3);
	api_forward_free(&fw);

	aws_query_escape(&esc, raw, strlen(raw));
	buf_printf(&body, "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=%s", esc.data);
	CHECK_INT(v1(body.data, &fw, &why, &r), 0);
	CHECK_INT((int)fw.recipients, 3);	/* the header's To and Cc */
	api_forward_free(&fw);
	buf_reset(&body);
	buf_printf(&body, "Action=SendRawEmail&Version=2010-12-01&Destinations.member.1=z%%40x.org"
		"&RawMessage.Data=%s", esc.data);
	CHECK_INT(v1(body.data, &fw, &why, &r), 0);
	CHECK_INT((int)fw.recipients, 1);	/* Destinations, not the header */
	api_forward_free(&fw);

	CHECK_INT(v2("/v2/email/outbound-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"Destination\":{\"ToAddresses\":[\"a@x.org\",\"b@x.org\"],\"CcAddresses\":[\"c@x.org\"],"
		"\"BccAddresses\":[\"d@x.org\",\"e@x.org\"]},\"Content\":{\"Simple\":{\"Subject\":"
		"{\"Data\":\"Hi\"},\"Body\":{\"Text\":{\"Data\":\"x\"}}}}}", &fw, &why, &o), 0);
	CHECK_INT((int)fw.recipients, 5);
	cJSON_Delete(o);
	api_forward_free(&fw);
	buf_reset(&body);
	buf_printf(&body, "{\"Content\":{\"Raw\":{\"Data\":\"%s\"}}}", raw);
	CHECK_INT(v2("/v2/email/outbound-emails", body.data, &fw, &why, &o), 0);
	CHECK_INT((int)fw.recipients, 3);
	cJSON_Delete(o);
	api_forward_free(&fw);
	/* base64 with a line break (the streaming decoder's case) and without
	 * padding decode as before; what is not base64 is refused */
	buf_reset(&body);
	buf_printf(&body, "{\"Content\":{\"Raw\":{\"Data\":\"%.20s\\n%s\"}}}", raw, raw + 20);
	CHECK_INT(v2("/v2/email/outbound-emails", body.data, &fw, &why, &o), 0);
	CHECK_INT((int)fw.recipients, 3);
	cJSON_Delete(o);
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-emails", "{\"Content\":{\"Raw\":{\"Data\":\"Zm9vOiBi=YQ==\"}}}",
		&fw, &why, &o), -EINVAL);
	CHECK_STR(why.message, "raw message data is not valid base64");
	api_forward_free(&fw);
	CHECK_INT(v2("/v2/email/outbound-bulk-emails", "{\"FromEmailAddress\":\"billing@example.com\","
		"\"DefaultContent\":{\"Template\":{\"TemplateName\":\"t\"}},\"BulkEmailEntries\":["
		"{\"Destination\":{\"ToAddresses\":[\"a@x.org\"],\"CcAddresses\":[\"b@x.org\"]}},"
		"{\"Destination\":{\"ToAddresses\":[\"c@x.org\",\"d@x.org\"]}}]}", &fw, &why, &o), 0);
	CHECK_INT((int)fw.recipients, 4);
	cJSON_Delete(o);
	api_forward_free(&fw);

	{
		const char *req = "{\"Addresses\":{\"a@x.org\":{\"ChannelType\":\"EMAIL\"},"
			"\"b@x.org\":{\"ChannelType\":\"EMAIL\"}},\"MessageConfiguration\":{\"EmailMessage\":"
			"{\"FromAddress\":\"billing@example.com\",\"SimpleEmail\":{\"Subject\":{\"Data\":\"Hi\"},"
			"\"TextPart\":{\"Data\":\"text\"}}}}}";
		CHECK_INT(api_pinpoint_split(&pol, req, strlen(req), &pp, &why), 0);
		CHECK_INT((int)pp.n, 2);
		for (size_t i = 0; i < pp.n; i++)
			CHECK_INT((int)pp.v[i].fw.recipients, 1);
		api_pinpoint_free(&pp);
	}
	buf_free(&body);
	buf_free(&esc);
	free(raw);
}

static void test_error_shapes(void)
{
	struct api_answer a;
	struct buf head = BUF_INIT;
	cJSON *o;

	api_answer_init(&a);
	CHECK_INT(api_error(&a, API_SES, 403, "AccessDenied", "no <DeleteIdentity> & co"), 0);
	CHECK_STR(a.content_type, "text/xml");
	CHECK(strstr(a.body.data, "<Type>Sender</Type>") != NULL);
	CHECK(strstr(a.body.data, "<Code>AccessDenied</Code>") != NULL);
	CHECK(strstr(a.body.data, "<Message>no &lt;DeleteIdentity&gt; &amp; co</Message>") != NULL);
	CHECK_INT(strlen(a.request_id), API_REQUEST_ID_LEN);
	CHECK_INT(api_answer_head(&a, true, 0, &head), 0);
	{
		static const char want[] = "HTTP/1.1 403 Forbidden\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
		CHECK(strncmp(head.data, want, sizeof(want) - 1) == 0);
	}
	CHECK(strstr(head.data, "x-amzn-ErrorType") == NULL);
	CHECK(strstr(head.data, "Connection: close") == NULL);
	api_answer_free(&a);

	api_answer_init(&a);
	CHECK_INT(api_error(&a, API_SESV2, 400, "BadRequestException", "bad"), 0);
	o = cJSON_Parse(a.body.data);
	CHECK_STR(jstr(o, "message"), "bad");
	cJSON_Delete(o);
	buf_reset(&head);
	CHECK_INT(api_answer_head(&a, false, 0, &head), 0);
	CHECK(strstr(head.data, "\r\nx-amzn-ErrorType: BadRequestException\r\n") != NULL);
	CHECK(strstr(head.data, "\r\nConnection: close\r\n\r\n") != NULL);
	api_answer_free(&a);

	api_answer_init(&a);
	CHECK_INT(api_error(&a, API_PINPOINT, 403, "ForbiddenException", "no"), 0);
	o = cJSON_Parse(a.body.data);
	CHECK_STR(jstr(o, "Message"), "no");
	CHECK_STR(jstr(o, "RequestID"), a.request_id);
	cJSON_Delete(o);
	api_answer_free(&a);
	buf_free(&head);
}

int main(void)
{
	setup();
	test_routes();
	test_recipients();
	test_v1_send_email();
	test_v1_raw();
	test_v2();
	test_pinpoint();
	test_error_shapes();
	clients_unref(clients);
	config_free(&cfg);
	return check_report();
}
