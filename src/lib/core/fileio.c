#include "lib/core/fileio.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int ch_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode)
{
	char tmp[PATH_MAX];
	int fd = -1, r = CH_ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		ch_error("%s: path too long", path);
		return CH_ERR_INVAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot create", tmp);
		return CH_ERR_IO;
	}
	/* The umask must not widen or narrow what the caller asked for. */
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot write", tmp);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		ch_log_errno(CH_LOG_ERROR, "%s: cannot close", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot rename into place", path);
		goto out;
	}
	if (fsync_dir_of(path) != 0)
		ch_log_errno(CH_LOG_WARN, "%s: cannot fsync its directory",
			     path);
	r = CH_OK;
out:
	if (fd >= 0)
		close(fd);
	if (r != CH_OK)
		unlink(tmp);
	return r;
}

int ch_file_read(const char *path, size_t max, char **data, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	int fd, r = CH_ERR_IO;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return CH_ERR_NOTFOUND;
		ch_log_errno(CH_LOG_ERROR, "%s: cannot open", path);
		return CH_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot stat", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		ch_error("%s: larger than %zu bytes", path, max);
		r = CH_ERR_LIMIT;
		goto out;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ch_log_errno(CH_LOG_ERROR, "%s: cannot read", path);
			goto out;
		}
		if (n == 0)	/* shrank under us: take what is there */
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	*data = p;
	*len = got;
	p = NULL;
	r = CH_OK;
out:
	free(p);
	close(fd);
	return r;
}

int ch_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n;

	if ((n = (size_t)snprintf(tmp, sizeof(tmp), "%s", path)) >= sizeof(tmp))
		return CH_ERR_INVAL;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
			ch_log_errno(CH_LOG_ERROR, "%s: cannot create "
				     "directory", tmp);
			return CH_ERR_IO;
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
		ch_log_errno(CH_LOG_ERROR, "%s: cannot create directory", tmp);
		return CH_ERR_IO;
	}
	return CH_OK;
}
