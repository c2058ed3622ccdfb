/* actor.c - who did it (actor.h). */
#include "hub/actor.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* getpwuid_r's buffer: enough for an /etc/passwd line. */
#define ACTOR_PW_BUF 4096

void hub_actor_local(struct hub_actor *a, uid_t uid, pid_t pid)
{
	struct passwd pw, *res = NULL;
	char buf[ACTOR_PW_BUF];

	memset(a, 0, sizeof(*a));
	snprintf(a->via, sizeof(a->via), "local");
	a->uid = uid;
	a->pid = pid > 0 ? pid : -1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    res->pw_name && res->pw_name[0] &&
	    strlen(res->pw_name) < sizeof(a->name))
		snprintf(a->name, sizeof(a->name), "%s", res->pw_name);
	else
		snprintf(a->name, sizeof(a->name), "%lu",
			 (unsigned long)uid);
}

void hub_actor_unknown(struct hub_actor *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->via, sizeof(a->via), "local");
	snprintf(a->name, sizeof(a->name), "unknown");
	a->uid = -1;
	a->pid = -1;
}

void hub_actor_hub(struct hub_actor *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->via, sizeof(a->via), "hub");
	snprintf(a->name, sizeof(a->name), "hub");
	a->uid = -1;
	a->pid = -1;
}

const char *hub_actor_str(const struct hub_actor *a, char *buf, size_t size)
{
	if (a->uid >= 0)
		snprintf(buf, size, "%s(uid=%lld)", a->name,
			 (long long)a->uid);
	else if (strcmp(a->name, a->via) == 0)
		snprintf(buf, size, "%s", a->name);
	else
		snprintf(buf, size, "%s(%s)", a->name, a->via);
	return buf;
}
