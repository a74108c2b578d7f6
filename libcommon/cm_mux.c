// SPDX-License-Identifier: GPL-3.0-or-later
/* The RDMA-CM MAD multiplexer's routing: see cm_mux.h. */
#include <stdlib.h>
#include <string.h>

#include "cm_mux.h"

enum {
	ATTR_REQ = 0x10, ATTR_MRA, ATTR_REJ, ATTR_REP, ATTR_RTU, ATTR_DREQ, ATTR_DREP,
	ATTR_SIDR_REQ, ATTR_SIDR_REP, ATTR_LAP, ATTR_APR,
};

#define REQ_DGID_AT		80	/* after the common header */
#define SIDR_REQ_DGID_AT	44
/* An interface id not registered as it is may be an IPv4 address: the
 * GID ::ffff:a.b.c.d has ff ff in bytes 10 and 11 (2 and 3 of the id). */
#define IFID_V4_BYTES		2

const char *cmmux_op_name(uint32_t op)
{
	static const char *const names[] = { "REG", "UNREG", "MAD" };

	return op < 3 ? names[op] : "?";
}

const char *cmmux_err_name(uint32_t err)
{
	static const char *const names[] = { "OK", "EINVAL", "EEXIST", "EACCES", "ENOTFOUND" };

	return err < 5 ? names[err] : "?";
}

const char *cmmux_attr_name(uint16_t attr)
{
	static const char *const names[] = {
		"REQ", "MRA", "REJ", "REP", "RTU", "DREQ", "DREP", "SIDR_REQ", "SIDR_REP",
		"LAP", "APR",
	};

	return attr >= ATTR_REQ && attr <= ATTR_APR ? names[attr - ATTR_REQ] : NULL;
}

uint16_t cmmux_mad_attr(const uint8_t *mad, size_t len)
{
	return len >= CMMUX_MAD_HDR ? (uint16_t)(mad[16] << 8 | mad[17]) : 0;
}

/* ---- open-addressing tables, bounded ---- */

struct entry {
	uint64_t key;
	uint64_t ifid;
	uint64_t last_ms;
	uint32_t client;
	bool used;
};

struct table {
	struct entry *e;
	uint32_t mask, count, limit;
	uint32_t *per_client;		/* entries of each client */
	uint32_t clients, client_limit;
};

struct cmmux_router {
	struct table gids;		/* interface id -> client */
	struct table commids;		/* comm id -> client, ifid */
	uint64_t ttl_ms;
};

static int table_init(struct table *t, uint32_t limit, uint32_t clients, uint32_t client_limit)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)limit)
		cap <<= 1;
	t->e = calloc(cap, sizeof(*t->e));
	t->per_client = calloc(clients ? clients : 1, sizeof(*t->per_client));
	t->mask = cap - 1;
	t->count = 0;
	t->limit = limit;
	t->clients = clients;
	t->client_limit = client_limit;
	return t->e && t->per_client ? 0 : -1;
}

/* client may add an entry: its share of the table is not used up */
static bool client_has_room(const struct table *t, uint32_t client)
{
	return client < t->clients && t->per_client[client] < t->client_limit;
}

static void set_client(struct table *t, struct entry *e, uint32_t client)
{
	e->client = client;
	t->per_client[client]++;
}

static uint32_t home(const struct table *t, uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & t->mask;
}

static struct entry *table_find(const struct table *t, uint64_t key)
{
	for (uint32_t i = home(t, key);; i = (i + 1) & t->mask) {
		if (!t->e[i].used)
			return NULL;
		if (t->e[i].key == key)
			return &t->e[i];
	}
}

/* The entry for key, new (zeroed but for the key) if absent; NULL if the
 * table is at its limit. */
static struct entry *table_get(struct table *t, uint64_t key)
{
	uint32_t i;

	for (i = home(t, key); t->e[i].used; i = (i + 1) & t->mask)
		if (t->e[i].key == key)
			return &t->e[i];
	if (t->count >= t->limit)
		return NULL;
	t->count++;
	t->e[i] = (struct entry){ .key = key, .used = true };
	return &t->e[i];
}

/* Removes slot i, moving later entries of its probe run back. */
static void table_del(struct table *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t k;

		j = (j + 1) & t->mask;
		if (!t->e[j].used)
			break;
		k = home(t, t->e[j].key);
		/* e[j] may move to i only if its home is not in (i, j] */
		if (((j - k) & t->mask) >= ((j - i) & t->mask)) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].used = false;
	t->count--;
}

static void table_del_entry(struct table *t, uint32_t i)
{
	t->per_client[t->e[i].client]--;
	table_del(t, i);
}

/* Removes every entry keep() refuses; returns how many. */
static uint32_t table_sweep(struct table *t, bool (*drop)(const struct entry *, const void *),
			    const void *arg)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= t->mask;) {
		if (t->e[i].used && drop(&t->e[i], arg)) {
			table_del_entry(t, i);	/* i may hold a moved entry now */
			n++;
		} else {
			i++;
		}
	}
	return n;
}

struct cmmux_router *cmmux_router_new(const struct cmmux_limits *lim)
{
	struct cmmux_router *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ttl_ms = lim->commid_ttl_ms;
	if (table_init(&r->gids, lim->gids, lim->clients, lim->gids_per_client) < 0 ||
	    table_init(&r->commids, lim->commids, lim->clients, lim->commids_per_client) < 0) {
		cmmux_router_free(r);
		return NULL;
	}
	return r;
}

void cmmux_router_free(struct cmmux_router *r)
{
	if (!r)
		return;
	free(r->gids.e);
	free(r->gids.per_client);
	free(r->commids.e);
	free(r->commids.per_client);
	free(r);
}

enum cmmux_err cmmux_reg(struct cmmux_router *r, uint32_t client, uint64_t ifid, bool *full)
{
	struct entry *e = table_find(&r->gids, ifid);

	*full = false;
	if (e)
		return e->client == client ? CMMUX_EEXIST : CMMUX_EACCES;
	e = client_has_room(&r->gids, client) ? table_get(&r->gids, ifid) : NULL;
	if (!e) {
		*full = true;
		return CMMUX_EINVAL;
	}
	set_client(&r->gids, e, client);
	return CMMUX_OK;
}

enum cmmux_err cmmux_unreg(struct cmmux_router *r, uint32_t client, uint64_t ifid)
{
	struct entry *e = table_find(&r->gids, ifid);

	if (!e)
		return CMMUX_ENOTFOUND;
	if (e->client != client)
		return CMMUX_EACCES;
	table_del_entry(&r->gids, (uint32_t)(e - r->gids.e));
	return CMMUX_OK;
}

static bool of_client(const struct entry *e, const void *arg)
{
	return e->client == *(const uint32_t *)arg;
}

uint32_t cmmux_drop_client(struct cmmux_router *r, uint32_t client)
{
	table_sweep(&r->commids, of_client, &client);
	return table_sweep(&r->gids, of_client, &client);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* ifid as a ::ffff:a.b.c.d GID has it (QEMU's mux's fallback) */
static uint64_t ifid_v4(uint64_t ifid)
{
	uint8_t v4[8];

	memcpy(v4, &ifid, 8);
	v4[IFID_V4_BYTES] = v4[IFID_V4_BYTES + 1] = 0xff;
	memcpy(&ifid, v4, 8);
	return ifid;
}

bool cmmux_owns_gid(const struct cmmux_router *r, uint32_t client, uint64_t ifid)
{
	const struct entry *e = table_find(&r->gids, ifid);

	if (!e)
		e = table_find(&r->gids, ifid_v4(ifid));
	return e && e->client == client;
}

enum cmmux_learned cmmux_learn(struct cmmux_router *r, uint32_t client, uint64_t ifid,
			       const uint8_t *mad, size_t len, uint64_t now_ms)
{
	uint16_t attr = cmmux_mad_attr(mad, len);
	struct entry *e;
	uint32_t id;

	switch (attr) {
	case ATTR_REQ: case ATTR_REP: case ATTR_RTU: case ATTR_DREQ: case ATTR_DREP:
	case ATTR_MRA: case ATTR_LAP: case ATTR_APR: case ATTR_SIDR_REQ:
		break;
	default:
		return CMMUX_LEARNED;	/* REJ and SIDR_REP end an exchange */
	}
	if (len < CMMUX_MAD_HDR + 4 || mad[1] != CMMUX_CLASS_CM)
		return CMMUX_LEARNED;
	id = get_u32(mad + CMMUX_MAD_HDR);	/* its own comm id */
	if (!id)
		return CMMUX_LEARNED;
	e = table_find(&r->commids, id);
	if (e && e->client != client)
		return CMMUX_ID_TAKEN;
	if (!e) {
		e = client_has_room(&r->commids, client) ? table_get(&r->commids, id) : NULL;
		if (!e)
			return CMMUX_TABLE_FULL;
		set_client(&r->commids, e, client);
	}
	e->ifid = ifid;
	e->last_ms = now_ms;
	return CMMUX_LEARNED;
}

static void route_by_gid(struct cmmux_router *r, const uint8_t *at, struct cmmux_route *out)
{
	struct entry *e;
	uint64_t ifid;

	memcpy(&ifid, at, 8);
	out->by_gid = true;
	e = table_find(&r->gids, ifid);
	if (!e) {
		ifid = ifid_v4(ifid);
		e = table_find(&r->gids, ifid);
		out->fallback = true;
	}
	out->ifid = ifid;
	if (e)
		out->client = e->client;
	else
		out->why = "no client registered its destination GID";
}

void cmmux_route_mad(struct cmmux_router *r, const uint8_t *mad, size_t len, uint64_t now_ms,
		     struct cmmux_route *out)
{
	const uint8_t *data = mad + CMMUX_MAD_HDR;
	size_t need = CMMUX_MAD_HDR;
	struct entry *e;
	uint32_t at = 0;

	*out = (struct cmmux_route){ .client = CMMUX_NO_CLIENT };
	if (len <= CMMUX_MAD_HDR) {
		out->why = "header only (a send completing)";
		return;
	}
	if (mad[1] != CMMUX_CLASS_CM) {
		out->why = "not a CM MAD";
		return;
	}
	out->attr = cmmux_mad_attr(mad, len);
	switch (out->attr) {
	case ATTR_REQ:
		need += REQ_DGID_AT + 8;
		break;
	case ATTR_SIDR_REQ:
		need += SIDR_REQ_DGID_AT + 8;
		break;
	case ATTR_REP: case ATTR_REJ: case ATTR_RTU: case ATTR_DREQ: case ATTR_DREP:
	case ATTR_MRA: case ATTR_LAP: case ATTR_APR:
		at = 4;		/* the remote comm id: our client's */
		need += 8;
		break;
	case ATTR_SIDR_REP:
		need += 4;	/* the request id the client chose */
		break;
	default:
		out->why = "not a CM attribute the mux routes";
		return;
	}
	if (len < need) {
		out->why = "too short for its attribute";
		return;
	}
	if (out->attr == ATTR_REQ || out->attr == ATTR_SIDR_REQ) {
		route_by_gid(r, data + (out->attr == ATTR_REQ ? REQ_DGID_AT : SIDR_REQ_DGID_AT), out);
		return;
	}
	out->comm_id = get_u32(data + at);
	if (!out->comm_id) {
		out->why = "comm id 0";
		return;
	}
	e = table_find(&r->commids, out->comm_id);
	if (!e) {
		out->why = "unknown or expired comm id";
		return;
	}
	e->last_ms = now_ms;
	out->client = e->client;
	out->ifid = e->ifid;
}

static bool expired(const struct entry *e, const void *arg)
{
	const uint64_t *limit = arg;

	return e->last_ms < *limit;
}

uint32_t cmmux_expire(struct cmmux_router *r, uint64_t now_ms)
{
	uint64_t limit;

	if (now_ms < r->ttl_ms)
		return 0;
	limit = now_ms - r->ttl_ms;
	return table_sweep(&r->commids, expired, &limit);
}

uint32_t cmmux_gid_count(const struct cmmux_router *r)
{
	return r->gids.count;
}

uint32_t cmmux_commid_count(const struct cmmux_router *r)
{
	return r->commids.count;
}

void cmmux_each_gid(const struct cmmux_router *r,
		    void (*fn)(void *ctx, uint64_t ifid, uint32_t client), void *ctx)
{
	for (uint32_t i = 0; i <= r->gids.mask; i++)
		if (r->gids.e[i].used)
			fn(ctx, r->gids.e[i].key, r->gids.e[i].client);
}

void cmmux_each_commid(const struct cmmux_router *r,
		       void (*fn)(void *ctx, uint32_t comm_id, uint32_t client, uint64_t ifid,
				  uint64_t last_ms),
		       void *ctx)
{
	for (uint32_t i = 0; i <= r->commids.mask; i++) {
		const struct entry *e = &r->commids.e[i];

		if (e->used)
			fn(ctx, (uint32_t)e->key, e->client, e->ifid, e->last_ms);
	}
}
