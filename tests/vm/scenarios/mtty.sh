# SPDX-License-Identifier: GPL-3.0-or-later
# mtty: an mtty mdev made from a UUID exists and has its VFIO group node
#
# usage: mtty UUID [TYPE]

. /scenarios/lib.sh

[ $# -ge 1 ] || die "usage: mtty UUID [TYPE]"
uuid=$1
type=${2:-mtty-2}

[ -c /dev/vfio/vfio ] || die "no /dev/vfio/vfio"
group=$(setup_mtty -t "$type" "$uuid")
dev=/sys/bus/mdev/devices/$uuid
[ -d "$dev" ] || die "no $dev"
mdev_type=$(readlink "$dev/mdev_type")
[ -c "$group" ] || die "$group is not a character device"
echo "mdev $uuid type ${mdev_type##*/} group $group"

# the kernel's VFIO migration v2 uAPI, through the static migbox
migbox vfio-dump --info "$uuid"
