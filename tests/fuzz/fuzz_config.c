/*
 * fuzz_config.c — the configuration parser on arbitrary file contents.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "filters/config.h"
#include "filters/log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*c;
	char			 path[64];
	int			 fd;

	gh_log_set_level(LOG_CRIT);
	if ((fd = memfd_create("conf", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = gh_config_load(path, NULL, 0, &errs);
	if (c == NULL && errs.n == 0)
		abort();	/* a refusal always says why */
	gh_config_unref(c);
	gh_config_errors_free(&errs);
	close(fd);
	return 0;
}
