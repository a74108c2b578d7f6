# SPDX-License-Identifier: GPL-3.0-or-later
# rxe: Soft-RoCE comes up ACTIVE on a dummy netdev
#
# usage: rxe

. /scenarios/lib.sh

setup_rxe
rdma link show
ip -4 -o addr show dev "$RXE_NETDEV"
ls /dev/infiniband
