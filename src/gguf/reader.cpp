#include "gguf/reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace cria::gguf {
namespace {

// Bounds-checked little-endian cursor over the file.
class Cursor {
  public:
    Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

    uint64_t position() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    template <typename T>
    Status read(T* out, const char* what) {
        if (remaining() < sizeof(T)) {
            return corrupt(std::string("file truncated while reading ") + what + " at offset " +
                           std::to_string(pos_));
        }
        std::memcpy(out, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return Status::ok();
    }

    Status read_string(std::string* out, uint64_t cap, const std::string& what) {
        uint64_t length = 0;
        CRIA_RETURN_IF_ERROR(read(&length, what.c_str()));
        if (length > remaining()) {
            return corrupt(what + " length " + std::to_string(length) +
                           " is longer than the rest of the file");
        }
        if (length > cap) {
            return corrupt(what + " length " + std::to_string(length) + " exceeds the cap of " +
                           std::to_string(cap) + " bytes");
        }
        out->assign(reinterpret_cast<const char*>(data_ + pos_), length);
        pos_ += length;
        return Status::ok();
    }

    // Advances to the next multiple of `alignment`, or fails if that is past the end.
    Status align(uint64_t alignment) {
        const uint64_t rem = pos_ % alignment;
        const uint64_t padded = rem == 0 ? pos_ : pos_ + (alignment - rem);
        if (padded > size_) return corrupt("file truncated before the aligned tensor data section");
        pos_ = padded;
        return Status::ok();
    }

  private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

// Smallest on-disk size of one value of the type, used to reject counts that cannot fit.
uint64_t min_encoded_size(ValueType type) {
    switch (type) {
        case ValueType::kUint8:
        case ValueType::kInt8:
        case ValueType::kBool:
            return 1;
        case ValueType::kUint16:
        case ValueType::kInt16:
            return 2;
        case ValueType::kUint32:
        case ValueType::kInt32:
        case ValueType::kFloat32:
            return 4;
        case ValueType::kUint64:
        case ValueType::kInt64:
        case ValueType::kFloat64:
        case ValueType::kString:
            return 8;
        case ValueType::kArray:
            return 12;
    }
    return 1;
}

struct ValueParser {
    Cursor& cursor;
    const ReadLimits& limits;
    uint64_t total_array_items = 0;

    Status parse(ValueType type, const std::string& key, uint32_t depth, Value* out) {
        switch (type) {
            case ValueType::kUint8:
                return scalar<uint8_t>(key, out, Value::u8);
            case ValueType::kInt8:
                return scalar<int8_t>(key, out, Value::i8);
            case ValueType::kUint16:
                return scalar<uint16_t>(key, out, Value::u16);
            case ValueType::kInt16:
                return scalar<int16_t>(key, out, Value::i16);
            case ValueType::kUint32:
                return scalar<uint32_t>(key, out, Value::u32);
            case ValueType::kInt32:
                return scalar<int32_t>(key, out, Value::i32);
            case ValueType::kUint64:
                return scalar<uint64_t>(key, out, Value::u64);
            case ValueType::kInt64:
                return scalar<int64_t>(key, out, Value::i64);
            case ValueType::kFloat32:
                return scalar<float>(key, out, Value::f32);
            case ValueType::kFloat64:
                return scalar<double>(key, out, Value::f64);
            case ValueType::kBool: {
                uint8_t b = 0;
                CRIA_RETURN_IF_ERROR(cursor.read(&b, "a bool value"));
                if (b > 1) {
                    return corrupt("metadata key '" + key + "': bool value " + std::to_string(b) +
                                   " is neither 0 nor 1");
                }
                *out = Value::boolean(b != 0);
                return Status::ok();
            }
            case ValueType::kString: {
                std::string s;
                CRIA_RETURN_IF_ERROR(cursor.read_string(&s, limits.max_string_bytes,
                                                        "metadata key '" + key + "' string"));
                *out = Value::string(std::move(s));
                return Status::ok();
            }
            case ValueType::kArray:
                return array(key, depth, out);
        }
        return corrupt("metadata key '" + key + "' has unknown value type");
    }

    template <typename T, typename Make>
    Status scalar(const std::string& key, Value* out, Make make) {
        T v{};
        CRIA_RETURN_IF_ERROR(cursor.read(&v, ("metadata key '" + key + "' value").c_str()));
        *out = make(v);
        return Status::ok();
    }

    Status array(const std::string& key, uint32_t depth, Value* out) {
        if (depth >= limits.max_array_depth) {
            return corrupt("metadata key '" + key + "': arrays nested deeper than " +
                           std::to_string(limits.max_array_depth));
        }
        uint32_t element_id = 0;
        uint64_t count = 0;
        CRIA_RETURN_IF_ERROR(cursor.read(&element_id, "an array element type"));
        if (!is_valid_value_type(element_id)) {
            return corrupt("metadata key '" + key + "': unknown array element type " +
                           std::to_string(element_id));
        }
        CRIA_RETURN_IF_ERROR(cursor.read(&count, "an array length"));
        const auto element_type = static_cast<ValueType>(element_id);
        if (count > cursor.remaining() / min_encoded_size(element_type)) {
            return corrupt("metadata key '" + key + "': array of " + std::to_string(count) +
                           " items cannot fit in the rest of the file");
        }
        if (count > limits.max_array_items) {
            return corrupt("metadata key '" + key + "': array of " + std::to_string(count) +
                           " items exceeds the cap of " + std::to_string(limits.max_array_items));
        }
        total_array_items += count;
        if (total_array_items > limits.max_total_array_items) {
            return corrupt("metadata arrays hold more than " +
                           std::to_string(limits.max_total_array_items) + " items in total");
        }
        Value::Array items(count);
        for (uint64_t i = 0; i < count; ++i) {
            CRIA_RETURN_IF_ERROR(parse(element_type, key, depth + 1, &items[i]));
        }
        *out = Value::array(element_type, std::move(items));
        return Status::ok();
    }
};

bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

std::string TensorInfo::shape_string() const {
    std::string out = "[";
    for (int d = 0; d < n_dims; ++d) {
        if (d > 0) out += ", ";
        out += std::to_string(dims[d]);
    }
    return out + "]";
}

Expected<std::unique_ptr<File>> File::open(const std::string& path, const ReadLimits& limits) {
    CRIA_ASSIGN_OR_RETURN(MappedFile mapping, MappedFile::open(path));
    std::unique_ptr<File> file(new File());
    file->mapping_ = std::move(mapping);
    file->path_ = path;
    file->data_ = file->mapping_.data();
    file->size_ = file->mapping_.size();
    Status status = file->parse_all(limits);
    if (!status) return Status(status.code(), path + ": " + status.message());
    return file;
}

Expected<std::unique_ptr<File>> File::parse(const uint8_t* data, size_t size,
                                            const ReadLimits& limits) {
    std::unique_ptr<File> file(new File());
    file->data_ = data;
    file->size_ = size;
    CRIA_RETURN_IF_ERROR(file->parse_all(limits));
    return file;
}

Status File::parse_all(const ReadLimits& limits) {
    Cursor cursor(data_, size_);
    uint32_t magic = 0;
    if (size_ < 4)
        return corrupt("file too small to be GGUF (" + std::to_string(size_) + " bytes)");
    CRIA_RETURN_IF_ERROR(cursor.read(&magic, "the magic"));
    if (magic != kMagic) return corrupt("bad magic: not a GGUF file");
    CRIA_RETURN_IF_ERROR(cursor.read(&version_, "the version"));
    if (version_ == 1) return unsupported("GGUF version 1 is not supported (only 2 and 3)");
    if (version_ != 2 && version_ != 3) {
        if ((version_ & 0xFFFFu) == 0 && version_ != 0) {
            return unsupported("GGUF version " + std::to_string(version_) +
                               " looks big-endian; only little-endian files are supported");
        }
        return unsupported("unsupported GGUF version " + std::to_string(version_));
    }
    uint64_t n_tensors = 0;
    uint64_t n_keys = 0;
    CRIA_RETURN_IF_ERROR(cursor.read(&n_tensors, "the tensor count"));
    CRIA_RETURN_IF_ERROR(cursor.read(&n_keys, "the metadata key count"));
    // A key is at least an 8-byte length, a 4-byte type and a 1-byte value; a tensor info at
    // least an 8-byte name length, 4-byte n_dims, one 8-byte dim, 4-byte type, 8-byte offset.
    constexpr uint64_t kMinKeyBytes = 13;
    constexpr uint64_t kMinTensorBytes = 32;
    if (n_keys > cursor.remaining() / kMinKeyBytes) {
        return corrupt("metadata key count " + std::to_string(n_keys) + " cannot fit in the file");
    }
    if (n_tensors > cursor.remaining() / kMinTensorBytes) {
        return corrupt("tensor count " + std::to_string(n_tensors) + " cannot fit in the file");
    }

    ValueParser values{cursor, limits};
    metadata_.reserve(n_keys);
    for (uint64_t k = 0; k < n_keys; ++k) {
        KeyValue kv;
        CRIA_RETURN_IF_ERROR(cursor.read_string(&kv.key, limits.max_key_bytes,
                                                "metadata key #" + std::to_string(k)));
        if (kv.key.empty()) return corrupt("metadata key #" + std::to_string(k) + " is empty");
        if (key_index_.count(kv.key) != 0)
            return corrupt("duplicate metadata key '" + kv.key + "'");
        uint32_t type_id = 0;
        CRIA_RETURN_IF_ERROR(cursor.read(&type_id, "a metadata value type"));
        if (!is_valid_value_type(type_id)) {
            return corrupt("metadata key '" + kv.key + "' has unknown value type " +
                           std::to_string(type_id));
        }
        CRIA_RETURN_IF_ERROR(values.parse(static_cast<ValueType>(type_id), kv.key, 0, &kv.value));
        key_index_.emplace(kv.key, metadata_.size());
        metadata_.push_back(std::move(kv));
    }

    if (const Value* align_value = find("general.alignment")) {
        if (align_value->type() != ValueType::kUint32) {
            return corrupt("general.alignment must be a u32, not " +
                           std::string(value_type_name(align_value->type())));
        }
        const uint64_t alignment = *align_value->as_u64();
        if (!is_power_of_two(alignment)) {
            return corrupt("general.alignment " + std::to_string(alignment) +
                           " is not a power of two");
        }
        if (alignment > limits.max_alignment) {
            return corrupt("general.alignment " + std::to_string(alignment) + " exceeds " +
                           std::to_string(limits.max_alignment));
        }
        alignment_ = static_cast<uint32_t>(alignment);
    }

    tensors_.reserve(n_tensors);
    for (uint64_t t = 0; t < n_tensors; ++t) {
        TensorInfo info;
        CRIA_RETURN_IF_ERROR(cursor.read_string(&info.name, limits.max_tensor_name_bytes,
                                                "tensor #" + std::to_string(t) + " name"));
        if (info.name.empty())
            return corrupt("tensor #" + std::to_string(t) + " has an empty name");
        if (tensor_index_.count(info.name) != 0) {
            return corrupt("duplicate tensor name '" + info.name + "'");
        }
        const std::string label = "tensor '" + info.name + "'";
        uint32_t n_dims = 0;
        CRIA_RETURN_IF_ERROR(cursor.read(&n_dims, "a tensor dimension count"));
        if (n_dims == 0 || n_dims > kMaxDims) {
            return corrupt(label + " has " + std::to_string(n_dims) +
                           " dimensions (must be 1 to 4)");
        }
        info.n_dims = static_cast<int>(n_dims);
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t dim = 0;
            CRIA_RETURN_IF_ERROR(cursor.read(&dim, "a tensor dimension"));
            if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                return corrupt(label + " has invalid dimension " + std::to_string(d) + " = " +
                               std::to_string(static_cast<int64_t>(dim)));
            }
            if (n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim) {
                return corrupt(label + " element count overflows 64 bits");
            }
            n_elements *= dim;
            info.dims[d] = static_cast<int64_t>(dim);
        }
        info.n_elements = n_elements;
        uint32_t type_id = 0;
        CRIA_RETURN_IF_ERROR(cursor.read(&type_id, "a tensor type"));
        const auto type_info = tensor_type_info(type_id);
        if (!type_info) {
            return corrupt(label + " has unknown tensor type id " + std::to_string(type_id));
        }
        info.type = type_info->type;
        if (info.dims[0] % type_info->block_size != 0) {
            return corrupt(label + " row length " + std::to_string(info.dims[0]) +
                           " is not a multiple of the " + std::string(type_info->name) +
                           " block size " + std::to_string(type_info->block_size));
        }
        const uint64_t n_blocks = n_elements / type_info->block_size;
        if (n_blocks > std::numeric_limits<uint64_t>::max() / type_info->block_bytes) {
            return corrupt(label + " byte size overflows 64 bits");
        }
        info.n_bytes = n_blocks * type_info->block_bytes;
        CRIA_RETURN_IF_ERROR(cursor.read(&info.offset, "a tensor offset"));
        if (info.offset % alignment_ != 0) {
            return corrupt(label + " offset " + std::to_string(info.offset) +
                           " is not a multiple of the alignment " + std::to_string(alignment_));
        }
        tensor_index_.emplace(info.name, tensors_.size());
        tensors_.push_back(std::move(info));
    }

    if (n_tensors > 0 || cursor.remaining() > 0) CRIA_RETURN_IF_ERROR(cursor.align(alignment_));
    data_offset_ = cursor.position();
    const uint64_t data_bytes = size_ - data_offset_;

    // Every tensor lies inside the data section, and no two overlap.
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(tensors_.size());
    for (auto& info : tensors_) {
        if (info.offset > data_bytes || info.n_bytes > data_bytes - info.offset) {
            return corrupt("tensor '" + info.name + "' data (offset " +
                           std::to_string(info.offset) + ", " + std::to_string(info.n_bytes) +
                           " bytes) lies outside the file");
        }
        info.data = data_ + data_offset_ + info.offset;
        by_offset.push_back(&info);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const TensorInfo& prev = *by_offset[i - 1];
        const TensorInfo& next = *by_offset[i];
        if (prev.offset + prev.n_bytes > next.offset) {
            return corrupt("tensors '" + prev.name + "' and '" + next.name + "' overlap");
        }
    }
    return Status::ok();
}

const Value* File::find(std::string_view key) const {
    auto it = key_index_.find(std::string(key));
    return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

uint64_t File::get_u64(std::string_view key, uint64_t fallback) const {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    return v->as_u64().value_or(fallback);
}

double File::get_f64(std::string_view key, double fallback) const {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    return v->as_f64().value_or(fallback);
}

bool File::get_bool(std::string_view key, bool fallback) const {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    return v->as_bool().value_or(fallback);
}

std::string File::get_string(std::string_view key, std::string fallback) const {
    const Value* v = find(key);
    if (v == nullptr || !v->is_string()) return fallback;
    return *v->as_string();
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace cria::gguf
