/* Answers in each API's shape (see api_reply.h). */
#include "api_reply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "aws_xml.h"

void api_request_id(char out[API_REQUEST_ID_LEN + 1])
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

void api_answer_init(struct api_answer *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->body);
}

void api_answer_free(struct api_answer *a)
{
	buf_free(&a->body);
}

static int json_error(struct api_answer *a, const char *msg_key, const char *message,
	bool with_request_id)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	int r = -ENOMEM;

	if (o && cJSON_AddStringToObject(o, msg_key, message) &&
			(!with_request_id || cJSON_AddStringToObject(o, "RequestID", a->request_id))) {
		text = cJSON_PrintUnformatted(o);
		if (text) {
			r = buf_puts(&a->body, text);
			cJSON_free(text);
		}
	}
	cJSON_Delete(o);
	return r;
}

int api_error(struct api_answer *a, enum api_kind api, int status, const char *code,
	const char *message)
{
	int r;

	if (a->request_id[0] == '\0')
		api_request_id(a->request_id);
	buf_reset(&a->body);
	a->status = status;
	snprintf(a->code, sizeof(a->code), "%s", code);
	if (api == API_SES) {
		a->content_type = "text/xml";
		a->error_type[0] = '\0';
		r = buf_printf(&a->body, "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">\n"
			"  <Error>\n    <Type>%s</Type>\n    <Code>", status >= 500 ? "Receiver" : "Sender");
		if (r == 0)
			r = aws_xml_escape(code, strlen(code), &a->body);
		if (r == 0)
			r = buf_puts(&a->body, "</Code>\n    <Message>");
		if (r == 0)
			r = aws_xml_escape(message, strlen(message), &a->body);
		if (r == 0)
			r = buf_printf(&a->body, "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n"
				"</ErrorResponse>\n", a->request_id);
		return r;
	}
	a->content_type = "application/json";
	snprintf(a->error_type, sizeof(a->error_type), "%s", code);
	return json_error(a, api == API_PINPOINT ? "Message" : "message", message,
		api == API_PINPOINT);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Error";
}

int api_answer_head(const struct api_answer *a, bool keep_alive, time_t now, struct buf *out)
{
	struct tm tm;
	char date[64];
	int r;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	r = buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nx-amzn-RequestId: %s\r\n", a->status, reason(a->status), date,
		a->content_type ? a->content_type : "application/octet-stream", a->body.len,
		a->request_id);
	if (r == 0 && a->error_type[0])
		r = buf_printf(out, "x-amzn-ErrorType: %s\r\n", a->error_type);
	if (r == 0)
		r = buf_puts(out, keep_alive ? "\r\n" : "Connection: close\r\n\r\n");
	return r;
}
