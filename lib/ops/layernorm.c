#include "lib/ops/op.h"
