#include "lib/id/sshkey.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTHKEYS_FILE_MAX ((size_t)CH_AUTHKEYS_MAX * CH_AUTHKEYS_MAX_LINE)

struct ch_authkeys {
	ssh_key *keys;
	size_t n;
	size_t cap;
};

/* Wipes a secret before freeing it (style E5). */
static void free_secret(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len);
	free(s);
}

char *ch_key_public_line(const ssh_key key)
{
	const char *type;
	char *b64 = NULL, *line = NULL;
	size_t n;

	if (key == NULL)
		return NULL;
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (type == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return NULL;
	n = strlen(type) + 1 + strlen(b64) + 1;
	if ((line = malloc(n)) != NULL)
		snprintf(line, n, "%s %s", type, b64);
	ssh_string_free_char(b64);
	return line;
}

int ch_key_fingerprint(const ssh_key key, char *out, size_t len)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	int r = CH_ERR_SSH;

	if (out != NULL && len > 0)
		out[0] = '\0';
	if (key == NULL || out == NULL)
		return CH_ERR_INVAL;
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
				   &hlen) != SSH_OK) {
		ch_error("cannot hash public key");
		goto out;
	}
	/* libssh prints "SHA256:" and unpadded base64, exactly as OpenSSH. */
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	if (fp == NULL) {
		ch_error("cannot format key fingerprint");
		goto out;
	}
	if (strlen(fp) >= len) {
		r = CH_ERR_LIMIT;
		goto out;
	}
	memcpy(out, fp, strlen(fp) + 1);
	r = CH_OK;
out:
	if (fp != NULL)
		ssh_string_free_char(fp);
	if (hash != NULL)
		ssh_clean_pubkey_hash(&hash);
	return r;
}

static int write_public(const char *path, const ssh_key key)
{
	char pubpath[PATH_MAX], host[256], *line = NULL, *text = NULL;
	size_t n;
	int r = CH_ERR_NOMEM;

	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    (int)sizeof(pubpath)) {
		ch_error("%s: path too long", path);
		return CH_ERR_INVAL;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if ((line = ch_key_public_line(key)) == NULL)
		goto out;
	n = strlen(line) + strlen(" callhome@\n") + strlen(host) + 1;
	if ((text = malloc(n)) == NULL)
		goto out;
	snprintf(text, n, "%s callhome@%s\n", line, host);
	r = ch_file_write_atomic(pubpath, text, strlen(text), 0644);
out:
	free(line);
	free(text);
	return r;
}

static int create_key(const char *path, ssh_key *key)
{
	ssh_key k = NULL;
	char *b64 = NULL;
	int r = CH_ERR_SSH;

	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK) {
		ch_error("%s: cannot generate an ed25519 key", path);
		goto out;
	}
	if (ssh_pki_export_privkey_base64(k, NULL, NULL, NULL, &b64) !=
	    SSH_OK) {
		ch_error("%s: cannot export the new private key", path);
		goto out;
	}
	if ((r = ch_file_write_atomic(path, b64, strlen(b64), 0600)) != CH_OK)
		goto out;
	/* Written second: a crash in between leaves a key without .pub,
	 * which the next load repairs. */
	if ((r = write_public(path, k)) != CH_OK)
		goto out;
	*key = k;
	k = NULL;	/* transferred */
out:
	if (b64 != NULL)
		free_secret(b64, strlen(b64));
	ssh_key_free(k);
	return r;
}

int ch_key_load_or_create(const char *path, ssh_key *key, int *created)
{
	struct stat st;
	char pubpath[PATH_MAX], *data = NULL;
	size_t len = 0;
	ssh_key k = NULL;
	int r;

	*key = NULL;
	*created = 0;
	r = ch_file_read(path, CH_KEY_FILE_MAX, &data, &len);
	if (r == CH_ERR_NOTFOUND) {
		if ((r = create_key(path, &k)) != CH_OK)
			goto out;
		*created = 1;
		ch_info("%s: created a new ed25519 key", path);
		*key = k;
		k = NULL;	/* transferred */
		goto out;
	}
	if (r != CH_OK) {
		if (r == CH_ERR_LIMIT)
			r = CH_ERR_SSH;	/* too big to be a key */
		goto out;
	}
	/* Warn only: refusing would turn a chmod slip into an outage. */
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		ch_warn("%s: private key is accessible by group or others "
			"(mode %03o); chmod 600 it",
			path, (unsigned)(st.st_mode & 0777));
	if (ssh_pki_import_privkey_base64(data, NULL, NULL, NULL, &k) !=
		    SSH_OK ||
	    !ssh_key_is_private(k)) {
		ch_error("%s: not a readable unencrypted private key", path);
		r = CH_ERR_SSH;
		goto out;
	}
	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", path) <
		    (int)sizeof(pubpath) &&
	    access(pubpath, F_OK) != 0) {
		ch_warn("%s: public half missing, writing it", pubpath);
		if (write_public(path, k) != CH_OK)
			ch_warn("%s: could not write the public half", pubpath);
	}
	*key = k;
	k = NULL;	/* transferred */
	r = CH_OK;
out:
	free_secret(data, len);
	ssh_key_free(k);
	return r;
}

static int authkeys_add(struct ch_authkeys *ak, ssh_key k)
{
	ssh_key *p;
	size_t ncap;

	if (ak->n == ak->cap) {
		ncap = ak->cap ? ak->cap * 2 : 8;
		if ((p = realloc(ak->keys, ncap * sizeof(*p))) == NULL)
			return CH_ERR_NOMEM;
		ak->keys = p;
		ak->cap = ncap;
	}
	ak->keys[ak->n++] = k;
	return CH_OK;
}

char *ch_key_next_field(char **s)
{
	char *p = *s, *start;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	start = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*s = p;
	return start;
}

static int is_cert_type(enum ssh_keytypes_e t)
{
	return t == SSH_KEYTYPE_RSA_CERT01 || t == SSH_KEYTYPE_DSS_CERT01 ||
	       t == SSH_KEYTYPE_ECDSA_P256_CERT01 ||
	       t == SSH_KEYTYPE_ECDSA_P384_CERT01 ||
	       t == SSH_KEYTYPE_ECDSA_P521_CERT01 ||
	       t == SSH_KEYTYPE_ED25519_CERT01 ||
	       t == SSH_KEYTYPE_SK_ECDSA_CERT01 ||
	       t == SSH_KEYTYPE_SK_ED25519_CERT01;
}

int ch_pubkey_parse(const char *tname, const char *b64, ssh_key *out,
		    const char **why)
{
	enum ssh_keytypes_e type;
	char *again = NULL;
	ssh_key k = NULL;

	*out = NULL;
	*why = NULL;
	type = ssh_key_type_from_name(tname);
	if (type == SSH_KEYTYPE_UNKNOWN) {
		*why = "unknown key type";
		return CH_ERR_INVAL;
	}
	if (is_cert_type(type)) {
		*why = "certificates not supported";
		return CH_ERR_INVAL;
	}
	if (b64 == NULL) {
		*why = "no key after the type";
		return CH_ERR_INVAL;
	}
	if (ssh_pki_import_pubkey_base64(b64, type, &k) != SSH_OK) {
		*why = "bad key data";
		return CH_ERR_INVAL;
	}
	/* libssh trusts the stated type and ignores the one inside the
	 * blob; re-encoding catches a blob that is not what it claims. */
	if (ssh_pki_export_pubkey_base64(k, &again) != SSH_OK ||
	    strcmp(again, b64) != 0) {
		*why = "key data does not match its type";
		ssh_key_free(k);
		k = NULL;
	}
	if (again != NULL)
		ssh_string_free_char(again);
	*out = k;
	return k ? CH_OK : CH_ERR_INVAL;
}

/* Parses one non-blank, non-comment line. Returns a new key, or NULL after
 * a warning naming the line. */
static ssh_key parse_line(const char *path, unsigned lineno, char *line)
{
	char *rest = line, *tname, *b64;
	const char *why;
	ssh_key k = NULL;

	tname = ch_key_next_field(&rest);
	if (ssh_key_type_from_name(tname) == SSH_KEYTYPE_UNKNOWN) {
		/* OpenSSH puts options first; we grant no restricted access,
		 * so such a line must not become a plain full-access key. */
		ch_warn("%s:%u: key options or unknown key type \"%.40s\" "
			"not supported, line skipped", path, lineno, tname);
		return NULL;
	}
	b64 = ch_key_next_field(&rest);
	if (ch_pubkey_parse(tname, b64, &k, &why) != CH_OK)
		ch_warn("%s:%u: %.40s key: %s, line skipped", path, lineno,
			tname, why);
	return k;
}

int ch_authkeys_load(const char *path, struct ch_authkeys **out)
{
	struct ch_authkeys *ak = NULL;
	char *data = NULL, *line, *next, *p;
	size_t len = 0, n;
	unsigned lineno = 0;
	ssh_key k;
	int r;

	*out = NULL;
	if ((r = ch_file_read(path, AUTHKEYS_FILE_MAX, &data, &len)) != CH_OK) {
		if (r == CH_ERR_NOTFOUND)
			ch_error("%s: no such file", path);
		goto out;
	}
	if ((ak = calloc(1, sizeof(*ak))) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	for (line = data; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		n = strlen(line);
		if (n >= CH_AUTHKEYS_MAX_LINE) {
			ch_warn("%s:%u: line longer than %d bytes, skipped",
				path, lineno, CH_AUTHKEYS_MAX_LINE);
			continue;
		}
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((k = parse_line(path, lineno, p)) == NULL)
			continue;
		if (ak->n >= CH_AUTHKEYS_MAX) {
			ch_error("%s: more than %d keys", path,
				 CH_AUTHKEYS_MAX);
			ssh_key_free(k);
			r = CH_ERR_LIMIT;
			goto out;
		}
		if ((r = authkeys_add(ak, k)) != CH_OK) {
			ssh_key_free(k);
			goto out;
		}
	}
	if (ak->n == 0) {
		ch_error("%s: no usable key", path);
		r = CH_ERR_INVAL;
		goto out;
	}
	*out = ak;
	ak = NULL;	/* transferred */
	r = CH_OK;
out:
	free(data);
	ch_authkeys_free(ak);
	return r;
}

int ch_authkeys_match(const struct ch_authkeys *ak, const ssh_key key)
{
	if (ak == NULL || key == NULL)
		return 0;
	for (size_t i = 0; i < ak->n; i++)
		if (ssh_key_cmp(ak->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0)
			return 1;
	return 0;
}

size_t ch_authkeys_count(const struct ch_authkeys *ak)
{
	return ak != NULL ? ak->n : 0;
}

void ch_authkeys_free(struct ch_authkeys *ak)
{
	if (ak == NULL)
		return;
	for (size_t i = 0; i < ak->n; i++)
		ssh_key_free(ak->keys[i]);
	free(ak->keys);
	free(ak);
}
