/* fileio.h - writes that matter are atomic: temp file in the same
 * directory, write, fsync, rename over the target, fsync the directory.
 * After a crash at any instant the target is the old or the new content.
 */
#ifndef CH_FILEIO_H
#define CH_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/core/limits.h"

/* Replaces path with data[0..len) created with mode. Errors are logged with
 * the path and errno text; returns CH_OK or CH_ERR_IO. */
int ch_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode);

/* Reads a whole file of at most max bytes into a new NUL-terminated buffer
 * (*len excludes the NUL; free with free()). CH_ERR_NOTFOUND if absent,
 * CH_ERR_LIMIT if larger than max, CH_ERR_IO otherwise (logged). */
int ch_file_read(const char *path, size_t max, char **data, size_t *len);

/* mkdir -p with mode for the missing parts. CH_OK or CH_ERR_IO (logged). */
int ch_mkdirs(const char *path, mode_t mode);

#endif
