#include "smtp_address.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

static bool ascii(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return false;
	return true;
}

int smtp_address_to_ascii(char *addr, size_t cap)
{
	char *at = strrchr(addr, '@');
	char *alabel = NULL;
	size_t local, n;

	if (at == NULL)		/* "" (null sender) or "Postmaster" */
		return ascii(addr, strlen(addr)) ? 0 : SMTP_ADDRESS_UTF8_LOCAL;
	local = (size_t)(at - addr);
	if (!ascii(addr, local))
		return SMTP_ADDRESS_UTF8_LOCAL;
	if (ascii(at + 1, strlen(at + 1)))
		return 0;
	/* Lookup protocol of IDNA2008 (RFC 5891 §5) after the UTS #46
	 * mapping (case folding, width, NFC), non-transitional as browsers
	 * and current resolvers do: "ß" stays "ß" (xn--...) instead of "ss". */
	if (idn2_to_ascii_8z(at + 1, &alabel, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
		return SMTP_ADDRESS_BAD_DOMAIN;
	n = strlen(alabel);
	/* Still a legal path once converted: "<" mailbox ">" within cap. */
	if (n > 255 || local + 1 + n + 2 > cap) {
		idn2_free(alabel);
		return SMTP_ADDRESS_BAD_DOMAIN;
	}
	memcpy(at + 1, alabel, n + 1);
	idn2_free(alabel);
	return 0;
}
