/* libFuzzer target: every decoder of QEMU's RDMA control messages and the
 * checks of their records against a block list, on arbitrary bytes. The
 * first byte picks a block list; the rest is a received message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ram.h"
#include "rdma_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rdma_dest_block blocks[4] = {
	{ 0x7f0000000000ull, 0, 64ull << 20, 0 },
	{ 0x7f1000000000ull, 64ull << 20, 0x20000, 0 },
	{ 0x7f2000000000ull, 0x4100000, 0x40000, 7 },
	{ 0x7f3000000000ull, 0x4200000, 0x1000, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ram_list ram;
	struct rdma_control h;
	struct rdma_caps caps;
	char err[RDMA_ERR_LEN];
	uint32_t nblocks;
	const unsigned char *payload;

	if (!ram.count) {
		ram_list_add(&ram, "pc.ram", 6, 64ull << 20);
		ram_list_add(&ram, "/rom@etc/acpi/tables", 20, 0x20000);
		ram_list_add(&ram, "pc.bios", 7, 0x40000);
		ram_list_add(&ram, "/rom@etc/acpi/rsdp", 18, 0x1000);
	}
	if (!size)
		return 0;
	nblocks = data[0] % 5;
	data++;
	size--;
	rdma_caps_decode(data, size, &caps, err);
	if (rdma_control_decode(data, size, &h, err) < 0)
		return 0;
	payload = data + RDMA_CONTROL_HEADER_SIZE;
	for (uint32_t i = 0; i < rdma_control_records(&h); i++) {
		struct rdma_dest_block b[RAM_BLOCKS_MAX > 64 ? 64 : RAM_BLOCKS_MAX];
		struct rdma_register_result rr;
		struct rdma_compress c;
		struct rdma_register r;
		uint64_t first, last;

		switch (h.type) {
		case RDMA_CONTROL_RAM_BLOCKS_RESULT:
			if (i < 64)
				rdma_dest_block_decode(payload + (size_t)i * RDMA_DEST_BLOCK_SIZE, &b[i]);
			if (i + 1 == rdma_control_records(&h) && i < 64)
				rdma_dest_blocks_check(b, i + 1, &ram, err);
			break;
		case RDMA_CONTROL_COMPRESS:
			rdma_compress_decode(payload + (size_t)i * RDMA_COMPRESS_SIZE, &c);
			rdma_compress_check(&c, blocks, nblocks, err);
			break;
		case RDMA_CONTROL_REGISTER_REQUEST:
		case RDMA_CONTROL_UNREGISTER_REQUEST:
			rdma_register_decode(payload + (size_t)i * RDMA_REGISTER_SIZE, &r);
			if (rdma_register_check(&r, blocks, nblocks, &first, &last, err) == 0 &&
			    (last < first || (last - first) > (64u << 20) >> RDMA_REG_CHUNK_SHIFT))
				abort();	/* a checked range must lie inside its block */
			break;
		case RDMA_CONTROL_REGISTER_RESULT:
			rdma_register_result_decode(payload + (size_t)i * RDMA_REGISTER_RESULT_SIZE, &rr);
			break;
		default:
			abort();	/* no other type carries records */
		}
	}
	return 0;
}
