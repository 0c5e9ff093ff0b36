#include <stdlib.h>

#include "buf.h"
#include "check.h"

int main(void)
{
	struct buf b = BUF_INIT;
	char *s;

	CHECK_INT(buf_puts(&b, "hello"), 0);
	CHECK_INT(buf_printf(&b, " %d %s", 42, "x"), 0);
	CHECK_STR(b.data, "hello 42 x");
	buf_consume(&b, 6);
	CHECK_STR(b.data, "42 x");
	CHECK_INT(b.len, 4);
	CHECK_INT(buf_append(&b, "\0z", 2), 0);
	CHECK_INT(b.len, 6);
	for (int i = 0; i < 10000; i++)
		CHECK_INT(buf_putc(&b, 'a'), 0);
	CHECK_INT(b.len, 10006);
	buf_consume(&b, 20000);
	CHECK_INT(b.len, 0);
	s = buf_steal(&b);
	CHECK(s != NULL && s[0] == '\0');
	CHECK(b.data == NULL);
	free(s);
	buf_free_secret(&b);
	return check_report();
}
