/* The layer kinds a spec line may name, and their constructors. A new layer
 * type adds one line here. */
#include "layers/layer.h"

#include <string.h>

sn_status sn_dense_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_flatten_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_activation_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_batchnorm_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_dropout_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_conv2d_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_pool_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_global_avgpool_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_rnn_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_lstm_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_gru_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_embedding_create(sn_layer_args *a, sn_layer **out, sn_error *err);
sn_status sn_onehot_create(sn_layer_args *a, sn_layer **out, sn_error *err);

static const struct {
    const char *kind;
    sn_layer_ctor ctor;
} kinds[] = {
    {"dense", sn_dense_create},
    {"flatten", sn_flatten_create},
    {"sigmoid", sn_activation_create},
    {"tanh", sn_activation_create},
    {"relu", sn_activation_create},
    {"leaky_relu", sn_activation_create},
    {"silu", sn_activation_create},
    {"gelu", sn_activation_create},
    {"gelu_tanh", sn_activation_create},
    {"softmax", sn_activation_create},
    {"batchnorm", sn_batchnorm_create},
    {"dropout", sn_dropout_create},
    {"conv2d", sn_conv2d_create},
    {"maxpool", sn_pool_create},
    {"avgpool", sn_pool_create},
    {"global_avgpool", sn_global_avgpool_create},
    {"rnn", sn_rnn_create},
    {"lstm", sn_lstm_create},
    {"gru", sn_gru_create},
    {"embedding", sn_embedding_create},
    {"onehot", sn_onehot_create},
};

sn_layer_ctor sn_layer_find(const char *kind) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].ctor;
    return NULL;
}

const char *sn_layer_kinds(void) {
    return "dense, flatten, sigmoid, tanh, relu, leaky_relu, silu, gelu, gelu_tanh, softmax, "
           "batchnorm, dropout, conv2d, maxpool, avgpool, global_avgpool, rnn, lstm, gru, "
           "embedding, onehot";
}
