// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: what the multifd applets do with parsed items, not only
 * the parser. A fuzzed stream goes through the sender's side (the set of
 * pages sent since the last sync point, packets of up to 128 pages of one
 * block, encoded and decoded again) and the receiver's placement of each
 * packet (the block and offset checks, record headers with CONTINUE) into
 * a re-framed stream. When the input is a valid stream, the re-framed one
 * must be valid too and restore the same RAM: anything else aborts. The
 * input's last bytes are also decoded as a packet header against the
 * stream's block list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "digest.h"
#include "iobuf.h"
#include "multifd.h"
#include "ram.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct flow {
	struct stream_reader *r;
	struct stream_writer w;
	struct ram_pageset sent;
	struct mfd_packet pkt;
	const struct ram_block *block;
	unsigned char pages[MULTIFD_PACKET_DATA];
	uint64_t packet_num;
};

static int fd_with(const void *p, size_t n)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	return fd;
}

/* The channel's packet: encoded, decoded, placed as the receiver does. */
static void send_packet(struct flow *f)
{
	unsigned char hdr[MULTIFD_PACKET_HEADER_SIZE];
	unsigned char rec[STREAM_PAGE_HEADER_MAX];
	char err[ERR_LEN];
	struct mfd_packet got;
	const struct ram_block *b;

	if (!f->pkt.normal_pages)
		return;
	f->pkt.magic = MULTIFD_MAGIC;
	f->pkt.version = MULTIFD_VERSION;
	f->pkt.pages_alloc = MULTIFD_PACKET_PAGES;
	f->pkt.next_packet_size = f->pkt.normal_pages * MULTIFD_PAGE_SIZE;
	f->pkt.packet_num = f->packet_num++;
	snprintf(f->pkt.ramblock, sizeof(f->pkt.ramblock), "%s", f->block->name);
	mfd_packet_encode(&f->pkt, hdr);
	if (mfd_packet_decode(hdr, &got, MULTIFD_FLAG_NOCOMP, err) < 0)
		abort();	/* our own packet of parsed pages */
	b = mfd_packet_block(&got, stream_ram(f->r), err);
	if (b != f->block)
		abort();
	for (uint32_t i = 0; i < got.normal_pages; i++) {
		size_t n = stream_page_header(&f->w, b, got.offset[i], RAM_SAVE_FLAG_PAGE, rec);

		out_write(f->w.out, rec, n);
		out_write(f->w.out, f->pages + (size_t)i * MULTIFD_PAGE_SIZE, MULTIFD_PAGE_SIZE);
	}
	f->pkt.normal_pages = 0;
}

static bool is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void sender_page(struct flow *f, const struct stream_item *it)
{
	int again = ram_pageset_add(&f->sent, it->block, it->addr, MULTIFD_PAGE_SIZE);

	if (again < 0)
		abort();
	if (again) {	/* sent twice in one epoch: a sync point first */
		send_packet(f);
		ram_pageset_clear(&f->sent);
		ram_pageset_add(&f->sent, it->block, it->addr, MULTIFD_PAGE_SIZE);
	}
	if (it->type == SI_RAM_ZERO || is_zero(it->data, it->len)) {
		send_packet(f);
		stream_write_zero(&f->w, it->block, it->addr, it->type == SI_RAM_ZERO ? it->fill : 0);
		return;
	}
	if (f->pkt.normal_pages && f->block != it->block)
		send_packet(f);
	f->block = it->block;
	memcpy(f->pages + (size_t)f->pkt.normal_pages * MULTIFD_PAGE_SIZE, it->data, MULTIFD_PAGE_SIZE);
	f->pkt.offset[f->pkt.normal_pages++] = it->addr;
	if (f->pkt.normal_pages == MULTIFD_PACKET_PAGES)
		send_packet(f);
}

/* Digests of every block of a stream in fd; -1 if it does not parse. */
static int digests(int fd, struct digest *d, uint32_t max)
{
	struct in_buf in;
	struct stream_reader *r;
	struct stream_item it;
	int ret;
	uint32_t n = 0;

	if (lseek(fd, 0, SEEK_SET) < 0 || in_init(&in, fd, 8192) < 0 || !(r = stream_reader_new(&in)))
		abort();
	while ((ret = stream_next(r, &it)) > 0) {
		if (it.type == SI_RAM_MEM_SIZE && ram_digest_enable(stream_ram(r)) < 0)
			abort();
		if (it.type == SI_RAM_PAGE)
			ram_digest_page(it.block, it.addr, it.data, it.len);
		if (it.type == SI_RAM_ZERO)
			ram_digest_fill(it.block, it.addr, it.fill, stream_page_size(r));
	}
	for (uint32_t i = 0; ret == 0 && i < stream_ram(r)->count && i < max; i++, n++)
		if (ram_digest_final(&stream_ram(r)->blocks[i], stream_page_size(r), &d[i]) < 0)
			abort();
	stream_reader_free(r);
	in_free(&in);
	return ret < 0 ? -1 : (int)n;
}

static void decode_tail(struct flow *f, const uint8_t *data, size_t size)
{
	unsigned char hdr[MULTIFD_PACKET_HEADER_SIZE] = { 0 };
	char err[ERR_LEN];
	struct mfd_packet pkt;
	size_t n = size < sizeof(hdr) ? size : sizeof(hdr);

	memcpy(hdr, data + size - n, n);
	if (mfd_packet_decode(hdr, &pkt, MULTIFD_FLAG_NOCOMP, err) == 0 && pkt.normal_pages &&
	    stream_ram(f->r)->count)
		mfd_packet_block(&pkt, stream_ram(f->r), err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct flow f;
	static struct digest in_dg[RAM_BLOCKS_MAX], out_dg[RAM_BLOCKS_MAX];
	int in_fd = fd_with(data, size), out_fd = fd_with(NULL, 0), ret, nin, nout;
	struct stream_item it;
	struct in_buf in;
	struct out_buf out;

	memset(&f, 0, sizeof(f));
	if (in_init(&in, in_fd, 8192) < 0 || out_init(&out, out_fd, 4096) < 0 ||
	    !(f.r = stream_reader_new(&in)))
		abort();
	stream_writer_init(&f.w, &out, MULTIFD_PAGE_SIZE);
	ram_pageset_init(&f.sent);
	while ((ret = stream_next(f.r, &it)) > 0) {
		if (stream_page_size(f.r) != MULTIFD_PAGE_SIZE)
			break;	/* multifd moves 4 KiB pages only */
		if (it.type == SI_RAM_PAGE || it.type == SI_RAM_ZERO) {
			sender_page(&f, &it);
			continue;
		}
		send_packet(&f);
		if (it.type == SI_RAM_EOS)
			ram_pageset_clear(&f.sent);
		if (it.type != SI_EOF && it.type != SI_VMDESC)
			stream_write_item(&f.w, &it, stream_ram(f.r));
	}
	if (ret == 0) {
		size_t vmlen;
		const char *vm = stream_vmdesc(f.r, &vmlen);

		stream_write_eof(&f.w);
		if (vm)
			stream_write_vmdesc(&f.w, vm, vmlen);
	}
	decode_tail(&f, data, size);
	if (out_close(&out) < 0)
		abort();
	if (ret == 0) {
		nin = digests(in_fd, in_dg, RAM_BLOCKS_MAX);
		nout = digests(out_fd, out_dg, RAM_BLOCKS_MAX);
		if (nin < 0 || nout != nin || memcmp(in_dg, out_dg, (size_t)nin * sizeof(in_dg[0]))) {
			fprintf(stderr, "re-framed stream differs: %d blocks in, %d out\n", nin, nout);
			abort();
		}
	}
	ram_pageset_free(&f.sent);
	stream_reader_free(f.r);
	in_free(&in);
	close(in_fd);
	close(out_fd);
	return 0;
}
