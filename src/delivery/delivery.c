#include "delivery.h"

void backend_shutdown(struct backend *be)
{
	if (be && be->ops->shutdown)
		be->ops->shutdown(be);
}
