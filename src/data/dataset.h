/* Data sets and their loaders (one file per format): declared in the public
 * header, since C callers build and load data sets themselves. */
#ifndef SN_DATA_DATASET_H
#define SN_DATA_DATASET_H

#include "scratchnet.h"

#endif
