/* The layer kinds a spec line may name, and their constructors: one line
 * per kind in SN_LAYER_KINDS, which declares the constructor, registers the
 * kind and names it in error messages. A new layer type adds one line here. */
#include "layers/layer.h"

#include <string.h>

#define SN_LAYER_KINDS(X)                                                                          \
    X("dense", sn_dense_create)                                                                    \
    X("flatten", sn_flatten_create)                                                                \
    X("sigmoid", sn_activation_create)                                                             \
    X("tanh", sn_activation_create)                                                                \
    X("relu", sn_activation_create)                                                                \
    X("leaky_relu", sn_activation_create)                                                          \
    X("silu", sn_activation_create)                                                                \
    X("gelu", sn_activation_create)                                                                \
    X("gelu_tanh", sn_activation_create)                                                           \
    X("softmax", sn_activation_create)                                                             \
    X("batchnorm", sn_batchnorm_create)                                                            \
    X("dropout", sn_dropout_create)                                                                \
    X("conv2d", sn_conv2d_create)                                                                  \
    X("maxpool", sn_pool_create)                                                                   \
    X("avgpool", sn_pool_create)                                                                   \
    X("global_avgpool", sn_global_avgpool_create)                                                  \
    X("rnn", sn_rnn_create)                                                                        \
    X("lstm", sn_lstm_create)                                                                      \
    X("gru", sn_gru_create)                                                                        \
    X("embedding", sn_embedding_create)                                                            \
    X("onehot", sn_onehot_create)

#define DECLARE(kind, ctor) sn_status ctor(sn_layer_args *a, sn_layer **out, sn_error *err);
SN_LAYER_KINDS(DECLARE)
#undef DECLARE

static const struct {
    const char *kind;
    sn_layer_ctor ctor;
} kinds[] = {
#define ENTRY(kind, ctor) {kind, ctor},
    SN_LAYER_KINDS(ENTRY)
#undef ENTRY
};

/* ", dense, flatten, ..." (the list starts after the first ", ") */
static const char kind_list[] =
#define NAME(kind, ctor) ", " kind
    SN_LAYER_KINDS(NAME)
#undef NAME
    ;

sn_layer_ctor sn_layer_find(const char *kind) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].ctor;
    return NULL;
}

const char *sn_layer_kinds(void) {
    return kind_list + 2;
}
