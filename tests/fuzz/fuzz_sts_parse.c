/* STS answers are untrusted: whatever a 200 body holds, the credential
 * and identity readers must stay in bounds, either refuse (and say why)
 * or return complete credentials whose account is 12 digits, and never
 * mark them verified (only the GetCallerIdentity round trip may). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_account(const char *a)
{
	if (a == NULL || strlen(a) != 12)
		abort();
	for (size_t i = 0; i < 12; i++)
		if (a[i] < '0' || a[i] > '9')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct aws_creds *c = NULL;
	struct aws_error why;
	struct sts_identity id;
	char *s;

	if (sts_parse_credentials(body, size, "assume_role", &c, &why) == 0) {
		if (c == NULL || !c->access_key_id[0] || !c->secret_access_key[0] ||
		    c->session_token == NULL || c->arn == NULL || c->verified)
			abort();
		check_account(c->account_id);
		aws_creds_unref(c);
	} else if (why.code[0] == '\0' || why.step[0] != '\0') {
		abort();	/* the caller fills step; the code must say why */
	}
	if (sts_parse_identity(body, size, &id, &why) == 0) {
		if (!id.account[0] || strnlen(id.account, sizeof(id.account)) == sizeof(id.account))
			abort();
	}
	s = malloc(size + 1);
	if (s) {
		char acct[16];
		memcpy(s, data, size);
		s[size] = '\0';
		if (sts_arn_account(s, acct, sizeof(acct)) == 0)
			check_account(acct);
		free(s);
	}
	return 0;
}
