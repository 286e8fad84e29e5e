// JPEG decoding through libjpeg(-turbo), converted to RGB with Pillow's
// semantics (image.h). libjpeg reports errors through error_exit, which here
// longjmps: every function that calls into libjpeg sets its jump target first
// and owns no C++ object; the decompressor is destroyed by the RAII owner in
// DecodeJpeg, whose frame the jump never leaves.

#include <csetjmp>
#include <cstdio>
#include <cstring>

// After <cstdio>: jpeglib.h uses FILE and size_t without including them.
#include <jpeglib.h>

#include "absl/strings/str_cat.h"
#include "image/decode_internal.h"

namespace glmq::image::internal {
namespace {

constexpr absl::string_view kFormat = "JPEG";

// Progressive and multi-scan files are decoded scan by scan; a few hundred
// thousand tiny scans would take minutes, so more than this is refused (real
// encoders write about 10).
constexpr int kMaxScans = 1000;

// libjpeg keeps progressive images' coefficients in memory: 2 bytes per
// sample, at most 4 samples per pixel, plus its working buffers.
int64_t MaxJpegMemory(const DecodeLimits& limits) { return 8 * limits.max_pixels + (64 << 20); }

// libjpeg's state for our callbacks. Plain data; `mgr` first, since libjpeg
// hands back a jpeg_error_mgr* (cinfo->err).
struct JpegErrorState {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

JpegErrorState* ErrorState(j_common_ptr cinfo) {
  return reinterpret_cast<JpegErrorState*>(cinfo->err);
}

[[noreturn]] void FailWith(j_common_ptr cinfo, const char* message) {
  JpegErrorState* state = ErrorState(cinfo);
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  std::longjmp(state->jump, 1);
}

void OnErrorExit(j_common_ptr cinfo) {
  JpegErrorState* state = ErrorState(cinfo);
  (*cinfo->err->format_message)(cinfo, state->message);
  std::longjmp(state->jump, 1);
}

void OnOutputMessage(j_common_ptr) {}  // warnings ("extraneous bytes"...) are not fatal

void OnProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxScans) {
    FailWith(cinfo, "more than 1000 scans");
  }
}

// The whole file is in memory from the start, so libjpeg asking for more
// data means the file is truncated: refused (Pillow refuses truncated files
// unless LOAD_TRUNCATED_IMAGES is set).
void InitSource(j_decompress_ptr) {}
boolean FillInputBuffer(j_decompress_ptr cinfo) {
  FailWith(reinterpret_cast<j_common_ptr>(cinfo), "truncated data");
}
void SkipInputData(j_decompress_ptr cinfo, long num_bytes) {
  if (num_bytes <= 0) return;
  jpeg_source_mgr* src = cinfo->src;
  if (static_cast<unsigned long>(num_bytes) > src->bytes_in_buffer) {
    FailWith(reinterpret_cast<j_common_ptr>(cinfo), "truncated data");
  }
  src->next_input_byte += num_bytes;
  src->bytes_in_buffer -= static_cast<size_t>(num_bytes);
}
void TermSource(j_decompress_ptr) {}

struct JpegHeader {
  int width = 0;
  int height = 0;
  int components = 0;
  J_COLOR_SPACE color_space = JCS_UNKNOWN;
};

// Creates the decompressor and reads the header. False on an error (message
// in `err`).
bool ReadHeader(jpeg_decompress_struct* cinfo, JpegErrorState* err, jpeg_source_mgr* src,
                long max_memory, jpeg_progress_mgr* progress, JpegHeader* h) {
  cinfo->err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = OnErrorExit;
  err->mgr.output_message = OnOutputMessage;
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  cinfo->mem->max_memory_to_use = max_memory;
  cinfo->src = src;
  progress->progress_monitor = OnProgress;
  cinfo->progress = progress;
  jpeg_read_header(cinfo, TRUE);
  h->width = static_cast<int>(cinfo->image_width);
  h->height = static_cast<int>(cinfo->image_height);
  h->components = cinfo->num_components;
  h->color_space = cinfo->jpeg_color_space;
  return true;
}

// One decoded scanline -> RGB.
using RowConverter = void (*)(const uint8_t* in, int width, uint8_t* out);

void GrayToRgb(const uint8_t* in, int width, uint8_t* out) {
  for (int x = 0; x < width; ++x) out[3 * x + 0] = out[3 * x + 1] = out[3 * x + 2] = in[x];
}

void RgbToRgb(const uint8_t* in, int width, uint8_t* out) {
  std::memcpy(out, in, static_cast<size_t>(width) * 3);
}

// Pillow reads 4-channel JPEGs as Adobe CMYK, whose samples are stored
// inverted ("CMYK;I": c = 255 - stored), then converts with cmyk2rgb:
// nk = 255 - k, R = clip(nk - c * nk / 255) with its integer division by 255,
// ((t >> 8) + t) >> 8 for t = c * nk + 128. Here nk = 255 - (255 - stored k).
void CmykToRgb(const uint8_t* in, int width, uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    const int nk = in[4 * x + 3];
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - in[4 * x + c]) * nk + 128;
      const int v = nk - (((t >> 8) + t) >> 8);
      out[3 * x + c] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

struct ColorFormat {
  int components;
  J_COLOR_SPACE out_color_space;
  RowConverter convert;
};

// Pillow's modes by component count: 1 -> L, 3 -> RGB, 4 -> CMYK.
constexpr ColorFormat kColorFormats[] = {
    {1, JCS_GRAYSCALE, GrayToRgb},
    {3, JCS_RGB, RgbToRgb},
    {4, JCS_CMYK, CmykToRgb},
};

// Decodes all scanlines into `rgb` ([height, width, 3]) through `row` (one
// scanline of `f.components` samples per pixel). False on an error.
bool ReadPixels(jpeg_decompress_struct* cinfo, JpegErrorState* err, const JpegHeader& h,
                const ColorFormat& f, uint8_t* row, uint8_t* rgb) {
  if (setjmp(err->jump)) return false;
  cinfo->out_color_space = f.out_color_space;
  jpeg_start_decompress(cinfo);
  if (static_cast<int>(cinfo->output_width) != h.width ||
      static_cast<int>(cinfo->output_height) != h.height ||
      cinfo->output_components != f.components) {
    FailWith(reinterpret_cast<j_common_ptr>(cinfo), "unexpected decoder output shape");
  }
  const size_t rgb_row_bytes = static_cast<size_t>(h.width) * 3;
  while (cinfo->output_scanline < cinfo->output_height) {
    const size_t y = cinfo->output_scanline;
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(cinfo, rows, 1) != 1) {
      FailWith(reinterpret_cast<j_common_ptr>(cinfo), "decoder returned no scanline");
    }
    f.convert(row, h.width, rgb + y * rgb_row_bytes);
  }
  return true;
}

// Owns the decompressor; zero-initialised so that destroying it is safe
// however far creation got.
struct JpegDecompressor {
  jpeg_decompress_struct cinfo{};
  JpegErrorState err{};
  jpeg_source_mgr src{};
  jpeg_progress_mgr progress{};
  ~JpegDecompressor() { jpeg_destroy_decompress(&cinfo); }
};

}  // namespace

absl::StatusOr<RgbImage> DecodeJpeg(absl::Span<const uint8_t> bytes, absl::string_view name,
                                    const DecodeLimits& limits) {
  JpegDecompressor decompressor;
  JpegDecompressor* d = &decompressor;
  d->src.next_input_byte = bytes.data();
  d->src.bytes_in_buffer = bytes.size();
  d->src.init_source = InitSource;
  d->src.fill_input_buffer = FillInputBuffer;
  d->src.skip_input_data = SkipInputData;
  d->src.resync_to_restart = jpeg_resync_to_restart;
  d->src.term_source = TermSource;
  JpegHeader h;
  if (!ReadHeader(&d->cinfo, &d->err, &d->src, static_cast<long>(MaxJpegMemory(limits)),
                  &d->progress, &h)) {
    return DecodeError(name, kFormat, d->err.message);
  }
  const absl::Status dims = CheckDimensions(h.width, h.height, limits, name, kFormat);
  if (!dims.ok()) return dims;
  const ColorFormat* f = nullptr;
  for (const ColorFormat& c : kColorFormats) {
    if (c.components == h.components) f = &c;
  }
  if (f == nullptr) {
    return DecodeError(name, kFormat,
                       absl::StrCat(h.components, "-component images are not supported"));
  }
  std::vector<uint8_t> row(static_cast<size_t>(h.width) * f->components);
  RgbImage out;
  out.width = h.width;
  out.height = h.height;
  out.pixels.resize(static_cast<size_t>(h.width) * h.height * 3);
  if (!ReadPixels(&d->cinfo, &d->err, h, *f, row.data(), out.pixels.data())) {
    return DecodeError(name, kFormat, d->err.message);
  }
  return out;
}

}  // namespace glmq::image::internal
