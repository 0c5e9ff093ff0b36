/* Just enough XML to read AWS Query API responses (STS, SES), plus the
 * error extractor shared by every AWS client in the daemon.
 *
 * Response bodies are untrusted: everything is bounded by the given length
 * (no NUL needed), nothing recurses, and no entity beyond the five XML
 * ones and numeric character references is expanded. Elements are matched
 * by local name, so a namespace prefix ("sts:Code") and attributes do not
 * matter; the first element with that name in document order wins.
 *
 * Ownership: results are copied into caller-owned buffers/structs; the
 * pointers aws_xml_element() returns point into the caller's body.
 */
#ifndef SESRELAY_AWS_XML_H
#define SESRELAY_AWS_XML_H

#include <stddef.h>
#include <time.h>

#include "aws_creds.h"
#include "buf.h"

/* Raw content (between start and end tag, children included) of the first
 * element named `name`. Returns 0, -ENOENT (no such element) or -EINVAL
 * (malformed: unterminated tag, comment or element). A self-closing
 * element gives an empty range. */
int aws_xml_element(const char *body, size_t len, const char *name,
	const char **inner, size_t *inner_len);

/* Text of the first element named `name`, entities decoded, CDATA taken
 * literally; replaces the content of out. -EINVAL also when the element
 * has child elements or a bad entity reference. */
int aws_xml_text(const char *body, size_t len, const char *name, struct buf *out);

/* Decode character data (entities and numeric references); appends. */
int aws_xml_unescape(const char *p, size_t n, struct buf *out);
/* Encode text as character data (& < > " ' as entities); appends. */
int aws_xml_escape(const char *p, size_t n, struct buf *out);

/* "2026-11-26T03:16:30Z", with optional fraction of a second and "Z" or
 * a "+HH:MM"/"-HH:MM" offset. Returns 0 or -EINVAL. */
int aws_parse_iso8601(const char *s, time_t *out);

/* Fill out->status, code, message and retryable from an AWS error
 * response: Query XML (<ErrorResponse><Error><Code>, with or without an
 * <Errors> wrapper), JSON ({"__type", "message"/"Message"}) and the
 * x-amzn-errortype header (amzn_error_type, may be NULL), which wins over
 * the body. Code and message are cut to fit and reduced to printable
 * ASCII, since they end up in logs and SMTP replies. out->step is left
 * alone. When no AWS code is found, code becomes "HTTP<status>" (and the
 * message the HTML <title>, if any) and -ENOENT is returned; otherwise 0. */
int aws_error_parse(int status, const char *body, size_t len, const char *amzn_error_type,
	struct aws_error *out);

/* retryable comes from the one classification, aws_retry.h. */

#endif
