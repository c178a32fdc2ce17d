// arx/arx.hpp — everything arx offers, in data-flow order.
#pragma once

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/tensor.hpp"
#include "arx/io/gguf.hpp"
#include "arx/io/gguf_writer.hpp"
