/* Text specs (text_spec.c): the [text] section and the `vocab` placeholder. */
#ifndef SN_MODEL_TEXT_SPEC_H
#define SN_MODEL_TEXT_SPEC_H

#include "scratchnet.h"

/* 1 when the spec text holds the whole word `vocab` (comments included). */
int sn_spec_has_vocab(const char *spec);

#endif
