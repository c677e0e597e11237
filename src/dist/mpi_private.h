/* What the MPI parts of src/dist/ share (only with -DSN_MPI=ON). */
#ifndef SN_DIST_MPI_PRIVATE_H
#define SN_DIST_MPI_PRIVATE_H

#include "dist/dist.h"

#include <mpi.h>

/* MPI's error code rc of `what` as an sn_status naming this rank. */
sn_status sn_dist_mpi_fail(sn_error *err, int rc, const char *what);
/* Waits for *r, polling with the deadline of sn_dist_set_timeout. */
sn_status sn_dist_wait_request(MPI_Request *r, const char *what, sn_error *err);
/* Frees the shared windows and communicators of the freed node groups
 * (node.c); sn_dist_finalize calls it before MPI_Finalize. */
void sn_dist_node_finalize(void);

#endif
