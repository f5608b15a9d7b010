#include "gguf/writer.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "gguf/reader.h"

namespace cria::gguf {
namespace {

template <typename T>
void append_raw(std::vector<uint8_t>& out, T v) {
    // resize + memcpy: GCC 12 warns (wrongly) about inserting into an empty vector.
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}

void pad_to(std::vector<uint8_t>& out, uint64_t alignment) {
    while (out.size() % alignment != 0) out.push_back(0);
}

}  // namespace

void append_string(std::vector<uint8_t>& out, const std::string& s) {
    append_raw<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

void append_value_payload(std::vector<uint8_t>& out, const Value& value) {
    switch (value.type()) {
        case ValueType::kUint8:
            append_raw<uint8_t>(out, static_cast<uint8_t>(*value.as_u64()));
            break;
        case ValueType::kInt8:
            append_raw<int8_t>(out, static_cast<int8_t>(*value.as_i64()));
            break;
        case ValueType::kUint16:
            append_raw<uint16_t>(out, static_cast<uint16_t>(*value.as_u64()));
            break;
        case ValueType::kInt16:
            append_raw<int16_t>(out, static_cast<int16_t>(*value.as_i64()));
            break;
        case ValueType::kUint32:
            append_raw<uint32_t>(out, static_cast<uint32_t>(*value.as_u64()));
            break;
        case ValueType::kInt32:
            append_raw<int32_t>(out, static_cast<int32_t>(*value.as_i64()));
            break;
        case ValueType::kUint64:
            append_raw<uint64_t>(out, *value.as_u64());
            break;
        case ValueType::kInt64:
            append_raw<int64_t>(out, *value.as_i64());
            break;
        case ValueType::kFloat32:
            append_raw<float>(out, static_cast<float>(*value.as_f64()));
            break;
        case ValueType::kFloat64:
            append_raw<double>(out, *value.as_f64());
            break;
        case ValueType::kBool:
            append_raw<uint8_t>(out, *value.as_bool() ? 1 : 0);
            break;
        case ValueType::kString:
            append_string(out, *value.as_string());
            break;
        case ValueType::kArray: {
            const auto& items = *value.as_array();
            append_raw<uint32_t>(out, static_cast<uint32_t>(value.element_type()));
            append_raw<uint64_t>(out, items.size());
            for (const auto& item : items) append_value_payload(out, item);
            break;
        }
    }
}

void Writer::set(const std::string& key, Value value) {
    for (auto& [existing_key, existing_value] : metadata_) {
        if (existing_key == key) {
            existing_value = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(key, std::move(value));
}

Status Writer::add_tensor(const std::string& name, TensorType type,
                          const std::vector<int64_t>& dims, std::vector<uint8_t> bytes) {
    if (dims.empty() || dims.size() > kMaxDims) {
        return invalid_argument("tensor '" + name + "' needs 1 to 4 dimensions");
    }
    int64_t n_elements = 1;
    for (int64_t d : dims) {
        if (d <= 0) return invalid_argument("tensor '" + name + "' has a non-positive dimension");
        n_elements *= d;
    }
    const TensorTypeInfo& info = tensor_type_info(type);
    if (dims[0] % info.block_size != 0) {
        return invalid_argument("tensor '" + name +
                                "' row length is not a multiple of the block size");
    }
    const uint64_t expected =
        static_cast<uint64_t>(n_elements / info.block_size) * info.block_bytes;
    if (bytes.size() != expected) {
        return invalid_argument("tensor '" + name + "' has " + std::to_string(bytes.size()) +
                                " bytes, expected " + std::to_string(expected));
    }
    for (const auto& t : tensors_) {
        if (t.name == name) return invalid_argument("duplicate tensor name '" + name + "'");
    }
    tensors_.push_back({name, type, dims, std::move(bytes)});
    return Status::ok();
}

Status Writer::add_f32_tensor(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return add_tensor(name, TensorType::kF32, dims, std::move(bytes));
}

std::vector<uint8_t> Writer::to_bytes() const {
    std::vector<uint8_t> out;
    append_raw<uint32_t>(out, kMagic);
    append_raw<uint32_t>(out, 3);
    append_raw<uint64_t>(out, tensors_.size());
    const bool write_alignment = alignment_ != kDefaultAlignment;
    bool has_alignment_key = false;
    for (const auto& kv : metadata_) has_alignment_key |= kv.first == "general.alignment";
    append_raw<uint64_t>(out, metadata_.size() + (write_alignment && !has_alignment_key ? 1 : 0));
    for (const auto& [key, value] : metadata_) {
        append_string(out, key);
        append_raw<uint32_t>(out, static_cast<uint32_t>(value.type()));
        append_value_payload(out, value);
    }
    if (write_alignment && !has_alignment_key) {
        append_string(out, "general.alignment");
        append_raw<uint32_t>(out, static_cast<uint32_t>(ValueType::kUint32));
        append_raw<uint32_t>(out, alignment_);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        append_string(out, t.name);
        append_raw<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
        for (int64_t d : t.dims) append_raw<uint64_t>(out, static_cast<uint64_t>(d));
        append_raw<uint32_t>(out, static_cast<uint32_t>(t.type));
        append_raw<uint64_t>(out, offset);
        offset += t.bytes.size();
        offset = (offset + alignment_ - 1) / alignment_ * alignment_;
    }
    pad_to(out, alignment_);
    for (const auto& t : tensors_) {
        out.insert(out.end(), t.bytes.begin(), t.bytes.end());
        pad_to(out, alignment_);
    }
    return out;
}

Status Writer::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    const std::string temp = path + ".tmp";
    {
        std::ofstream file(temp, std::ios::binary | std::ios::trunc);
        if (!file) return io_error("cannot create " + temp);
        file.write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        if (!file) return io_error("cannot write " + temp);
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        std::remove(temp.c_str());
        return io_error("cannot rename " + temp + " to " + path);
    }
    return Status::ok();
}

}  // namespace cria::gguf
