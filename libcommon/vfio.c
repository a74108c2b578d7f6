// SPDX-License-Identifier: GPL-3.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfio.h"

static int vfail(struct vfio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int vfail(struct vfio_dev *d, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

const char *vfio_state_name(uint32_t state)
{
	static const char *const names[] = {
		"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING",
		"RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* "00:05.0" -> "0000:00:05.0" */
static void pci_full_name(const char *name, char *out, size_t n)
{
	unsigned a, b, c;
	char tail;

	if (sscanf(name, "%x:%x.%x%c", &a, &b, &c, &tail) == 3)
		snprintf(out, n, "0000:%02x:%02x.%x", a, b, c);
	else
		snprintf(out, n, "%s", name);
}

static int find_group(struct vfio_dev *d, const char *name)
{
	char path[PATH_MAX], link[PATH_MAX], full[128];
	ssize_t n;
	struct stat st;

	if (strchr(name, '/') || !*name || strlen(name) >= sizeof(d->name))
		return vfail(d, "'%s' is not a PCI address or an mdev UUID", name);
	snprintf(d->sysfs, sizeof(d->sysfs), "/sys/bus/mdev/devices/%s", name);
	if (stat(d->sysfs, &st) < 0) {
		pci_full_name(name, full, sizeof(full));
		snprintf(d->sysfs, sizeof(d->sysfs), "/sys/bus/pci/devices/%s", full);
		if (stat(d->sysfs, &st) < 0)
			return vfail(d, "no such device: neither /sys/bus/mdev/devices/%s nor %s exists",
				     name, d->sysfs);
	}
	snprintf(path, sizeof(path), "%s/iommu_group", d->sysfs);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return vfail(d, "%s has no IOMMU group (%s): bind it to vfio-pci and enable the IOMMU",
			     d->sysfs, strerror(errno));
	link[n] = 0;
	d->group_id = atoi(basename(link));
	return 0;
}

int vfio_dev_open(struct vfio_dev *d, const char *name)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int api;

	memset(d, 0, sizeof(*d));
	d->container_fd = d->group_fd = d->device_fd = -1;
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (find_group(d, name) < 0)
		return -1;

	d->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container_fd < 0) {
		if (errno == ENOENT && access("/dev/iommu", F_OK) == 0)
			vfail(d, "/dev/vfio/vfio is missing: this kernel offers only iommufd (/dev/iommu), and migbox uses the VFIO container with a type1 IOMMU");
		else
			vfail(d, "cannot open /dev/vfio/vfio: %s (is the vfio module loaded?)", strerror(errno));
		goto fail;
	}
	api = ioctl(d->container_fd, VFIO_GET_API_VERSION);
	if (api != VFIO_API_VERSION) {
		vfail(d, "VFIO API version %d, expected %d", api, VFIO_API_VERSION);
		goto fail;
	}
	if (ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0 &&
	    ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
		vfail(d, "the VFIO container offers no type1 IOMMU (the kernel offers only %s)",
		      ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU) > 0 ?
		      "no-IOMMU mode" : "other IOMMU models");
		goto fail;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->group_fd < 0) {
		vfail(d, "cannot open %s (IOMMU group of %s): %s%s", path, name, strerror(errno),
		      errno == EBUSY ? " (the device is open elsewhere)" : "");
		goto fail;
	}
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
		vfail(d, "VFIO_GROUP_GET_STATUS on %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		vfail(d, "IOMMU group %d is not viable: bind every device in it to vfio drivers", d->group_id);
		goto fail;
	}
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &d->container_fd) < 0) {
		vfail(d, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(d->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 &&
	    ioctl(d->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
		vfail(d, "VFIO_SET_IOMMU (type1): %s", strerror(errno));
		goto fail;
	}
	d->device_fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, name);
	if (d->device_fd < 0) {
		char full[128];

		pci_full_name(name, full, sizeof(full));
		d->device_fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, full);
	}
	if (d->device_fd < 0) {
		vfail(d, "VFIO_GROUP_GET_DEVICE_FD(%s): %s%s", name, strerror(errno),
		      errno == EBUSY ? " (the device is open elsewhere)" : "");
		goto fail;
	}
	return 0;
fail:
	vfio_dev_close(d);
	return -1;
}

void vfio_dev_close(struct vfio_dev *d)
{
	if (d->device_fd >= 0)
		close(d->device_fd);
	if (d->group_fd >= 0)
		close(d->group_fd);
	if (d->container_fd >= 0)
		close(d->container_fd);
	d->device_fd = d->group_fd = d->container_fd = -1;
}

/* VFIO_DEVICE_FEATURE with a payload of up to 16 bytes. */
static int feature(struct vfio_dev *d, uint32_t flags, void *data, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 16 + 7) / 8] = { 0 };
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	int ret;

	f->argsz = (uint32_t)(sizeof(*f) + len);
	f->flags = flags;
	if (data)
		memcpy(f->data, data, len);
	ret = ioctl(d->device_fd, VFIO_DEVICE_FEATURE, f);
	if (ret == 0 && data)
		memcpy(data, f->data, len);
	return ret;
}

int vfio_mig_flags(struct vfio_dev *d, uint64_t *flags)
{
	struct vfio_device_feature_migration mig = { 0 };

	if (feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
		    &mig, sizeof(mig)) < 0)
		return vfail(d, "%s does not support VFIO migration (VFIO_DEVICE_FEATURE_MIGRATION: %s)",
			     d->name, strerror(errno));
	*flags = mig.flags;
	return 0;
}

int vfio_mig_get_state(struct vfio_dev *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state st = { 0 };

	if (feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		    &st, sizeof(st)) < 0)
		return vfail(d, "reading the migration state of %s: %s", d->name, strerror(errno));
	*state = st.device_state;
	return 0;
}

int vfio_mig_set_state(struct vfio_dev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state st = { .device_state = state, .data_fd = -1 };

	if (feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		    &st, sizeof(st)) < 0)
		return vfail(d, "moving %s to %s: %s", d->name, vfio_state_name(state),
			     strerror(errno));
	if (data_fd)
		*data_fd = st.data_fd;
	else if (st.data_fd >= 0)
		close(st.data_fd);
	return 0;
}

int vfio_mig_data_size(struct vfio_dev *d, uint64_t *bytes)
{
	uint64_t size = 0;

	if (feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
		    &size, sizeof(size)) < 0)
		return vfail(d, "VFIO_DEVICE_FEATURE_MIG_DATA_SIZE on %s: %s", d->name, strerror(errno));
	*bytes = size;
	return 0;
}

int vfio_precopy_info(struct vfio_dev *d, int data_fd, uint64_t *initial,
		      uint64_t *dirty)
{
	struct {
		uint32_t argsz;
		uint32_t flags;
		uint64_t initial_bytes;
		uint64_t dirty_bytes;
	} info = { .argsz = sizeof(info) };

	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info) < 0)
		return vfail(d, "VFIO_MIG_GET_PRECOPY_INFO on %s: %s", d->name, strerror(errno));
	*initial = info.initial_bytes;
	*dirty = info.dirty_bytes;
	return 0;
}

int vfio_dev_reset(struct vfio_dev *d)
{
	if (ioctl(d->device_fd, VFIO_DEVICE_RESET) < 0)
		return vfail(d, "VFIO_DEVICE_RESET on %s: %s", d->name, strerror(errno));
	return 0;
}

int vfio_dev_recover(struct vfio_dev *d)
{
	uint32_t state;
	char saved[sizeof(d->err)];

	/* keep the first error: it is the one worth reporting */
	memcpy(saved, d->err, sizeof(saved));
	if (vfio_mig_set_state(d, VFIO_DEVICE_STATE_RUNNING, NULL) == 0 ||
	    (vfio_dev_reset(d) == 0 &&
	     (vfio_mig_get_state(d, &state) < 0 || state == VFIO_DEVICE_STATE_RUNNING ||
	      vfio_mig_set_state(d, VFIO_DEVICE_STATE_RUNNING, NULL) == 0))) {
		memcpy(d->err, saved, sizeof(saved));
		return 0;
	}
	memcpy(d->err, saved, sizeof(saved));
	return -1;
}
