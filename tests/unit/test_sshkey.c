#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/core/err.h"
#include "lib/id/sshkey.h"

#define SSH_KEYGEN "/usr/bin/ssh-keygen"

/* A fixed key and the fingerprint `ssh-keygen -lf` printed for it. */
#define VEC_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIAaGs7mIn7ehqED+YJubVuqkq9EQkUcI6mumfhKc907m"
#define VEC_FP "SHA256:HrqmaDEfGM48c8avlskmc+sOP0K1vQG+Aw9oitKzo1A"
/* A valid RSA public blob (e=65537, 2056-bit n) whose inner type string
 * says "ssh-ed25519": parses as ssh-rsa but is not what it claims. */
#define LIE_B64 "AAAAC3NzaC1lZDI1NTE5AAAAAwEAAQAAAQEAw+J3qA0tzk+GtQaOqnsEq3dX" \
	"zXN1TVOO2za/ZCEnYoOzO4AHIrkq47Z6RVUnQ0WKPkp4c+0ZrotFpKKlvzR+LH0WW7w+" \
	"Q6AvfBcC+v8MSQLzW557rzacVm8reehzavuGsW5WLyeDtMgEHtZAEN6MIVfGAgTlbV15" \
	"5hZ82h7qQoj+m4Ln7RL9pPJDwwe6nOwhr0Z2ldrElv+XPTlDeO7IaWYv9VqUHBWHVVj+" \
	"DBhrZaa0EBORHJWj2LzlpKVgv1jF9ZJzT+HiknuIjWSnKrG9ZNPEGwV0vELlVGGAC1ka" \
	"Mut8KWGpyuCzwdUn6WemcgRjLzlqjOOgOu3dgasJ5fUJHg=="

struct fx {
	char dir[64];		/* mkdtemp under /tmp */
	char key[PATH_MAX];	/* dir/key, absent at start */
	char pub[PATH_MAX];	/* dir/key.pub */
	char ak[PATH_MAX];	/* dir/authorized_keys */
	char log[PATH_MAX];	/* dir/stderr, see capture_start() */
	int saved_stderr;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sshkey.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->key, sizeof(f->key), "%s/key", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s/key.pub", f->dir);
	snprintf(f->ak, sizeof(f->ak), "%s/authorized_keys", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/stderr", f->dir);
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Returns the file's text in a static buffer. */
static const char *read_text(const char *path)
{
	static char buf[65536];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* Sends our log lines (stderr) to a file so warnings can be asserted. */
static void capture_start(struct fx *f)
{
	int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	assert_true(f->saved_stderr >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

static const char *capture_end(struct fx *f)
{
	fflush(stderr);
	assert_int_equal(dup2(f->saved_stderr, 2), 2);
	close(f->saved_stderr);
	f->saved_stderr = -1;
	return read_text(f->log);
}

/* Second field of the first line of a .pub file, in a static buffer. */
static const char *pub_b64(const char *path)
{
	static char b64[4096];
	const char *t = read_text(path), *s, *e;

	s = strchr(t, ' ');
	assert_non_null(s);
	s++;
	e = strpbrk(s, " \n");
	assert_non_null(e);
	assert_true((size_t)(e - s) < sizeof(b64));
	memcpy(b64, s, (size_t)(e - s));
	b64[e - s] = '\0';
	return b64;
}

/* OpenSSH's fingerprint computed without libssh: SHA256 of the key blob,
 * base64 without padding. */
static void openssl_fingerprint(const char *b64, char *out, size_t len)
{
	unsigned char blob[4096], md[EVP_MAX_MD_SIZE];
	unsigned char enc[96];	/* base64 of EVP_MAX_MD_SIZE, + NUL */
	unsigned mdlen = 0;
	size_t n = strlen(b64), pad = 0;
	int bl, el;

	assert_true(n < sizeof(blob));
	bl = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)n);
	assert_true(bl > 0);
	while (n > 0 && b64[n - 1] == '=') {	/* DecodeBlock keeps pad bytes */
		pad++;
		n--;
	}
	assert_int_equal(EVP_Digest(blob, (size_t)bl - pad, md, &mdlen,
				    EVP_sha256(), NULL), 1);
	el = EVP_EncodeBlock(enc, md, (int)mdlen);
	while (el > 0 && enc[el - 1] == '=')
		el--;
	enc[el] = '\0';
	snprintf(out, len, "SHA256:%s", enc);
}

static void test_create_then_load(void **state)
{
	struct fx *f = *state;
	ssh_key k1 = NULL, k2 = NULL;
	struct stat st;
	int created = -1;

	assert_int_equal(ch_key_load_or_create(f->key, &k1, &created), CH_OK);
	assert_int_equal(created, 1);
	assert_non_null(k1);
	assert_int_equal(ssh_key_type(k1), SSH_KEYTYPE_ED25519);
	assert_true(ssh_key_is_private(k1));

	assert_int_equal(stat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(f->pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_non_null(strstr(read_text(f->key),
			       "-----BEGIN OPENSSH PRIVATE KEY-----"));

	created = -1;
	assert_int_equal(ch_key_load_or_create(f->key, &k2, &created), CH_OK);
	assert_int_equal(created, 0);
	assert_non_null(k2);
	assert_int_equal(ssh_key_cmp(k1, k2, SSH_KEY_CMP_PRIVATE), 0);
	assert_int_equal(ssh_key_cmp(k1, k2, SSH_KEY_CMP_PUBLIC), 0);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void test_two_creations_differ(void **state)
{
	struct fx *f = *state;
	char other[PATH_MAX + 8];
	ssh_key k1 = NULL, k2 = NULL;
	int c1 = 0, c2 = 0;

	snprintf(other, sizeof(other), "%s/other", f->dir);
	assert_int_equal(ch_key_load_or_create(f->key, &k1, &c1), CH_OK);
	assert_int_equal(ch_key_load_or_create(other, &k2, &c2), CH_OK);
	assert_int_equal(c1 + c2, 2);
	assert_int_not_equal(ssh_key_cmp(k1, k2, SSH_KEY_CMP_PUBLIC), 0);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void test_pub_file_and_line(void **state)
{
	struct fx *f = *state;
	struct ch_authkeys *ak = NULL;
	char expect[512], *line;
	const char *t;
	ssh_key k = NULL;
	int created = 0;

	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	t = read_text(f->pub);
	/* "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI<43 chars> callhome@host\n" */
	assert_int_equal(strncmp(t, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI",
				 37), 0);
	assert_int_equal(strlen(pub_b64(f->pub)), 68);
	assert_non_null(strstr(t, " callhome@"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	assert_ptr_equal(strchr(t, '\n'), t + strlen(t) - 1);	/* one line */

	line = ch_key_public_line(k);
	assert_non_null(line);
	snprintf(expect, sizeof(expect), "ssh-ed25519 %s", pub_b64(f->pub));
	assert_string_equal(line, expect);
	free(line);

	/* The .pub file is itself a valid authorized_keys file. */
	assert_int_equal(ch_authkeys_load(f->pub, &ak), CH_OK);
	assert_int_equal(ch_authkeys_count(ak), 1);
	assert_int_equal(ch_authkeys_match(ak, k), 1);
	ch_authkeys_free(ak);
	ssh_key_free(k);
}

static void test_fingerprint_known_vector(void **state)
{
	char fp[CH_FP_LEN];
	ssh_key k = NULL;

	(void)state;
	assert_int_equal(ssh_pki_import_pubkey_base64(VEC_B64,
						      SSH_KEYTYPE_ED25519, &k),
			 SSH_OK);
	memset(fp, 'x', sizeof(fp));
	assert_int_equal(ch_key_fingerprint(k, fp, sizeof(fp)), CH_OK);
	assert_string_equal(fp, VEC_FP);
	ssh_key_free(k);
}

static void test_fingerprint_matches_openssl(void **state)
{
	struct fx *f = *state;
	char fp[CH_FP_LEN], expect[CH_FP_LEN];
	ssh_key k = NULL;
	int created = 0;

	openssl_fingerprint(VEC_B64, expect, sizeof(expect));
	assert_string_equal(expect, VEC_FP);	/* the reference is right */

	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	assert_int_equal(ch_key_fingerprint(k, fp, sizeof(fp)), CH_OK);
	openssl_fingerprint(pub_b64(f->pub), expect, sizeof(expect));
	assert_string_equal(fp, expect);
	assert_int_equal(strlen(fp), 7 + 43);
	ssh_key_free(k);
}

static void test_fingerprint_matches_ssh_keygen(void **state)
{
	struct fx *f = *state;
	char fp[CH_FP_LEN], cmd[PATH_MAX + 64], out[512];
	char *s, *e;
	ssh_key k = NULL;
	FILE *p;
	int created = 0;

	if (access(SSH_KEYGEN, X_OK) != 0)
		skip();
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	assert_int_equal(ch_key_fingerprint(k, fp, sizeof(fp)), CH_OK);

	snprintf(cmd, sizeof(cmd), SSH_KEYGEN " -lf '%s'", f->pub);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	/* "256 SHA256:... callhome@host (ED25519)" */
	assert_int_equal(strncmp(out, "256 ", 4), 0);
	s = out + 4;
	e = strchr(s, ' ');
	assert_non_null(e);
	*e = '\0';
	assert_string_equal(fp, s);
	ssh_key_free(k);
}

static void test_fingerprint_small_buffer(void **state)
{
	char fp[CH_FP_LEN];
	ssh_key k = NULL;

	(void)state;
	assert_int_equal(ssh_pki_import_pubkey_base64(VEC_B64,
						      SSH_KEYTYPE_ED25519, &k),
			 SSH_OK);
	memset(fp, 'x', sizeof(fp));
	assert_int_equal(ch_key_fingerprint(k, fp, 50), CH_ERR_LIMIT);
	assert_string_equal(fp, "");
	assert_int_equal(ch_key_fingerprint(k, fp, 51), CH_OK);
	assert_string_equal(fp, VEC_FP);
	assert_int_equal(ch_key_fingerprint(NULL, fp, sizeof(fp)),
			 CH_ERR_INVAL);
	ssh_key_free(k);
}

/* A key made by OpenSSH loads, with a warning for loose permissions, and
 * a missing .pub is written again. */
static void test_load_openssh_key(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX * 2 + 64], fp[CH_FP_LEN], expect[CH_FP_LEN];
	const char *log;
	ssh_key k = NULL;
	int created = -1;

	if (access(SSH_KEYGEN, X_OK) != 0)
		skip();
	snprintf(cmd, sizeof(cmd),
		 SSH_KEYGEN " -q -t ed25519 -N '' -C t -f '%s' && rm '%s'",
		 f->key, f->pub);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(f->key, 0644), 0);

	capture_start(f);
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	log = capture_end(f);
	assert_int_equal(created, 0);
	assert_non_null(strstr(log, "accessible by group or others"));
	assert_non_null(strstr(log, "(mode 644)"));

	assert_int_equal(access(f->pub, F_OK), 0);
	assert_int_equal(ch_key_fingerprint(k, fp, sizeof(fp)), CH_OK);
	openssl_fingerprint(pub_b64(f->pub), expect, sizeof(expect));
	assert_string_equal(fp, expect);
	ssh_key_free(k);

	/* Mode 0600: no warning. */
	assert_int_equal(chmod(f->key, 0600), 0);
	capture_start(f);
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	log = capture_end(f);
	assert_null(strstr(log, "accessible"));
	ssh_key_free(k);
}

static void expect_corrupt(struct fx *f, const char *text)
{
	ssh_key k = (ssh_key)1;
	int created = -1;

	write_file(f->key, text, 0600);
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created),
			 CH_ERR_SSH);
	assert_null(k);
	assert_int_equal(created, 0);
	/* The corrupt file is left alone, never replaced by a new key. */
	assert_string_equal(read_text(f->key), text);
}

static void test_corrupt_private_key(void **state)
{
	struct fx *f = *state;
	char half[4096];
	ssh_key k = NULL;
	int created = 0;
	size_t n;

	expect_corrupt(f, "");
	expect_corrupt(f, "garbage\n");
	expect_corrupt(f, "-----BEGIN OPENSSH PRIVATE KEY-----\n"
			  "b3BlbnNzaC1rZXktdjEAAAAA!!!!\n"
			  "-----END OPENSSH PRIVATE KEY-----\n");
	expect_corrupt(f, "ssh-ed25519 " VEC_B64 " a public key\n");

	/* A real key cut in half. */
	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created), CH_OK);
	ssh_key_free(k);
	n = strlen(read_text(f->key)) / 2;
	memcpy(half, read_text(f->key), n);
	half[n] = '\0';
	expect_corrupt(f, half);
}

/* A passphrase-protected key is refused, without prompting anyone. */
static void test_encrypted_key_refused(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 96];
	ssh_key k = (ssh_key)1;
	int created = -1;

	if (access(SSH_KEYGEN, X_OK) != 0)
		skip();
	snprintf(cmd, sizeof(cmd),
		 SSH_KEYGEN " -q -t ed25519 -N secret -f '%s' </dev/null",
		 f->key);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ch_key_load_or_create(f->key, &k, &created),
			 CH_ERR_SSH);
	assert_null(k);
	assert_int_equal(created, 0);
}

static void test_create_in_missing_dir(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 16];
	ssh_key k = NULL;
	int created = -1;

	snprintf(path, sizeof(path), "%s/nodir/key", f->dir);
	assert_int_equal(ch_key_load_or_create(path, &k, &created), CH_ERR_IO);
	assert_null(k);
	assert_int_equal(created, 0);
}

/* authorized_keys with every kind of line we must tolerate. */
static void test_authkeys_mixed(void **state)
{
	struct fx *f = *state;
	struct ch_authkeys *ak = NULL;
	ssh_key a = NULL, b = NULL, c = NULL, d = NULL, e = NULL;
	char *la, *lb, *lc, *le, text[16384];
	const char *log;

	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &a), SSH_OK);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &b), SSH_OK);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ECDSA_P256, 256, &c),
			 SSH_OK);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &d), SSH_OK);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_RSA, 2048, &e), SSH_OK);
	la = ch_key_public_line(a);
	lb = ch_key_public_line(b);
	lc = ch_key_public_line(c);
	le = ch_key_public_line(e);
	assert_non_null(la);
	assert_non_null(lb);
	assert_non_null(lc);
	assert_non_null(le);
	assert_int_equal(strncmp(lc, "ecdsa-sha2-nistp256 AAAA", 24), 0);
	assert_int_equal(strncmp(le, "ssh-rsa AAAA", 12), 0);

	snprintf(text, sizeof(text),
		 "# authorized keys\n"					/* 1 */
		 "\n"							/* 2 */
		 "   # indented comment\n"				/* 3 */
		 "%s alice@example\n"					/* 4 */
		 "no-pty,command=\"/bin/false\" %s optioned\n"		/* 5 */
		 "ssh-ed25519 !!!notbase64!!! bad\n"			/* 6 */
		 "ssh-rsa " LIE_B64 " wrong type\n"			/* 7 */
		 "foo-type AAAA unknown\n"				/* 8 */
		 "ssh-ed25519\n"					/* 9 */
		 "  \t\n"						/* 10 */
		 "\t%s\r\n"						/* 11 */
		 "%s",							/* 12 */
		 la, lb, lc, le);
	write_file(f->ak, text, 0644);

	capture_start(f);
	assert_int_equal(ch_authkeys_load(f->ak, &ak), CH_OK);
	log = capture_end(f);
	assert_non_null(ak);
	assert_int_equal(ch_authkeys_count(ak), 3);
	assert_int_equal(ch_authkeys_match(ak, a), 1);
	assert_int_equal(ch_authkeys_match(ak, b), 0);	/* options: skipped */
	assert_int_equal(ch_authkeys_match(ak, c), 1);
	assert_int_equal(ch_authkeys_match(ak, d), 0);
	assert_int_equal(ch_authkeys_match(ak, e), 1);	/* no final newline */
	assert_int_equal(ch_authkeys_match(ak, NULL), 0);

	/* Each skipped line is named; nothing else is warned about. */
	for (int i = 1; i <= 12; i++) {
		char tag[PATH_MAX + 16];
		int bad = i == 5 || i == 6 || i == 7 || i == 8 || i == 9;

		snprintf(tag, sizeof(tag), "%s:%d:", f->ak, i);
		if (bad)
			assert_non_null(strstr(log, tag));
		else
			assert_null(strstr(log, tag));
	}
	assert_non_null(strstr(log, "ssh-ed25519 key: bad key data"));
	assert_non_null(strstr(log, "ssh-rsa key: key data does not match its type"));

	ch_authkeys_free(ak);
	free(la);
	free(lb);
	free(lc);
	free(le);
	ssh_key_free(a);
	ssh_key_free(b);
	ssh_key_free(c);
	ssh_key_free(d);
	ssh_key_free(e);
}

static void expect_no_usable(struct fx *f, const char *text)
{
	struct ch_authkeys *ak = (struct ch_authkeys *)1;

	write_file(f->ak, text, 0644);
	assert_int_equal(ch_authkeys_load(f->ak, &ak), CH_ERR_INVAL);
	assert_null(ak);
}

static void test_authkeys_no_usable_key(void **state)
{
	struct fx *f = *state;
	struct ch_authkeys *ak = (struct ch_authkeys *)1;

	expect_no_usable(f, "");
	expect_no_usable(f, "\n\n# only comments\n");
	expect_no_usable(f, "ssh-ed25519 !!!notbase64!!!\n"
			    "restrict ssh-ed25519 " VEC_B64 "\n");

	assert_int_equal(ch_authkeys_load(f->key, &ak), CH_ERR_NOTFOUND);
	assert_null(ak);
}

static void test_authkeys_null_safe(void **state)
{
	(void)state;
	ch_authkeys_free(NULL);
	assert_int_equal(ch_authkeys_count(NULL), 0);
	assert_int_equal(ch_authkeys_match(NULL, NULL), 0);
	assert_null(ch_key_public_line(NULL));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_create_then_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_creations_differ,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pub_file_and_line, setup,
						teardown),
		cmocka_unit_test(test_fingerprint_known_vector),
		cmocka_unit_test_setup_teardown(
			test_fingerprint_matches_openssl, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fingerprint_matches_ssh_keygen, setup, teardown),
		cmocka_unit_test(test_fingerprint_small_buffer),
		cmocka_unit_test_setup_teardown(test_load_openssh_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_private_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_encrypted_key_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_in_missing_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_authkeys_mixed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_authkeys_no_usable_key,
						setup, teardown),
		cmocka_unit_test(test_authkeys_null_safe),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
