// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: the multifd wire decoders (init packet, packet header
 * with the block and offset checks) and the zlib/zstd receive contexts fed
 * the rest of the input as a sequence of payloads, as a channel thread does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "multifd.h"
#include "ram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pages[MULTIFD_PACKET_DATA];
	static const unsigned char uuid[16];
	static struct ram_list ram;
	const struct compress_method *methods[] = { &compress_zlib, &compress_zstd };
	unsigned char hdr[MULTIFD_PACKET_HEADER_SIZE] = { 0 };
	char err[ERR_LEN];
	struct mfd_init init;
	struct mfd_packet pkt;

	if (!ram.count) {
		ram_list_add(&ram, "pc.ram", 6, 1 << 20);
		ram_list_add(&ram, "m", 1, 64 << 20);
	}
	if (size >= MULTIFD_INIT_SIZE)
		mfd_init_decode(data, &init, uuid, 8, err);
	memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
	for (int m = 0; m < 3; m++) {
		uint32_t flag = m == 0 ? MULTIFD_FLAG_NOCOMP : methods[m - 1]->wire_flag;

		if (mfd_packet_decode(hdr, &pkt, flag, err) == 0 && pkt.normal_pages)
			mfd_packet_block(&pkt, &ram, err);
	}
	/* payloads: [u8 pages][u16 length][bytes]... into one context each */
	for (int m = 0; m < 2; m++) {
		const struct compress_method *cm = methods[m];
		size_t off = 0;
		void *ctx;

		if (cm->recv_setup(&ctx, err) < 0)
			abort();
		while (off + 3 <= size) {
			size_t npages = data[off] % MULTIFD_PACKET_PAGES + 1;
			size_t n = (size_t)data[off + 1] << 8 | data[off + 2];
			void *buf;

			off += 3;
			if (n > size - off)
				n = size - off;
			buf = cm->recv_buffer(ctx, pages, n);
			memcpy(buf, data + off, n);
			off += n;
			if (cm->recv(ctx, buf, n, pages, npages * MULTIFD_PAGE_SIZE, err) < 0)
				break;
		}
		cm->recv_cleanup(ctx);
	}
	return 0;
}
