/* Answers of the API front in each API's own shape, so the caller's SDK
 * parses them as it parses SES's: SES v1 errors as Query XML
 * (<ErrorResponse><Error><Type><Code><Message>), SESv2 and Pinpoint
 * errors as REST-JSON (x-amzn-ErrorType header; "message" for SESv2,
 * "Message" and "RequestID" for Pinpoint); every answer carries
 * x-amzn-RequestId and a Date (the SDKs correct their clock from it after
 * RequestExpired). Pure but for api_request_id() (random).
 *
 * Ownership: struct api_answer owns its body; api_answer_free().
 */
#ifndef SESRELAY_API_REPLY_H
#define SESRELAY_API_REPLY_H

#include <stdbool.h>
#include <time.h>

#include "api_route.h"
#include "buf.h"

#define API_REQUEST_ID_LEN 36		/* 8-4-4-4-12 hex, as AWS's */

struct api_answer {
	int status;
	const char *content_type;	/* static */
	char request_id[API_REQUEST_ID_LEN + 28];
	char error_type[64];		/* x-amzn-ErrorType, "" for none */
	char code[64];			/* error code for logs and metrics, "" on success */
	struct buf body;
};

/* A fresh random request id (UUID text). */
void api_request_id(char out[API_REQUEST_ID_LEN + 1]);
void api_answer_init(struct api_answer *a);
void api_answer_free(struct api_answer *a);

/* Make a an error answer of api's shape (request id kept if set, else
 * made). 0 or -ENOMEM. */
int api_error(struct api_answer *a, enum api_kind api, int status, const char *code,
	const char *message);

/* The status line and header section of a (ends with the blank line). */
int api_answer_head(const struct api_answer *a, bool keep_alive, time_t now, struct buf *out);

#endif
