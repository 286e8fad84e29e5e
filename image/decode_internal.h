// Internal to glmq_image: the per-format decoders behind DecodeImage.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "image/image.h"

namespace glmq::image::internal {

// "<name>: <format>: <what>" as InvalidArgument.
absl::Status DecodeError(absl::string_view name, absl::string_view format, absl::string_view what);

// Refuses 0-sized images and images over limits.max_pixels; called with the
// header's dimensions, before anything is allocated for the pixels.
absl::Status CheckDimensions(int64_t width, int64_t height, const DecodeLimits& limits,
                             absl::string_view name, absl::string_view format);

absl::StatusOr<RgbImage> DecodePng(absl::Span<const uint8_t> bytes, absl::string_view name,
                                   const DecodeLimits& limits);
absl::StatusOr<RgbImage> DecodeJpeg(absl::Span<const uint8_t> bytes, absl::string_view name,
                                    const DecodeLimits& limits);

}  // namespace glmq::image::internal
