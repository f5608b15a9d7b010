#include "server/json_body.h"

#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cria::server {
namespace {

// A SAX consumer that builds the document. Each open container is a frame; an object frame
// keeps the index of its keys, so that a key is placed in O(1) instead of by a search through
// the keys before it. Pointers into a parent stay valid while a child is built: a container
// grows only at its own level, after its child is finished.
template <class Json>
class DomBuilder {
  public:
    using number_integer_t = typename Json::number_integer_t;
    using number_unsigned_t = typename Json::number_unsigned_t;
    using number_float_t = typename Json::number_float_t;
    using string_t = typename Json::string_t;
    using binary_t = typename Json::binary_t;

    explicit DomBuilder(size_t max_depth) : max_depth_(max_depth) {}

    Json take() { return std::move(root_); }

    bool null() { return place(Json(nullptr)); }
    bool boolean(bool value) { return place(Json(value)); }
    bool number_integer(number_integer_t value) { return place(Json(value)); }
    bool number_unsigned(number_unsigned_t value) { return place(Json(value)); }
    bool number_float(number_float_t value, const string_t&) { return place(Json(value)); }
    bool string(string_t& value) { return place(Json(std::move(value))); }
    bool binary(binary_t& value) { return place(Json::binary(std::move(value))); }

    bool start_object(size_t) { return open(Json::object()); }
    bool start_array(size_t) { return open(Json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(string_t& name) {
        Frame& frame = frames_.back();
        auto& object = frame.container->template get_ref<typename Json::object_t&>();
        if constexpr (kOrdered) {
            const auto [at, inserted] = frame.keys.try_emplace(name, object.size());
            if (inserted) {
                // The container under ordered_map, to append without its duplicate search.
                auto& items = static_cast<typename Json::object_t::Container&>(object);
                items.emplace_back(std::move(name), nullptr);
                slot_ = &items.back().second;
            } else {
                slot_ = &(object.begin() + static_cast<std::ptrdiff_t>(at->second))->second;
            }
        } else {
            slot_ = &object[std::move(name)];
        }
        return true;
    }

    bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;
    }

  private:
    static constexpr bool kOrdered = std::is_same_v<Json, nlohmann::ordered_json>;

    struct Frame {
        Json* container;
        std::unordered_map<std::string, size_t> keys;  // object frames of ordered_json only
    };

    // The place of the next value: the root, the slot of the last key, or an array's new end.
    Json* target() {
        if (frames_.empty()) return &root_;
        Json* container = frames_.back().container;
        if (container->is_array()) {
            auto& array = container->template get_ref<typename Json::array_t&>();
            array.emplace_back(nullptr);
            return &array.back();
        }
        return slot_;
    }

    bool place(Json value) {
        *target() = std::move(value);
        return true;
    }

    bool open(Json container) {
        if (frames_.size() >= max_depth_) return false;
        Json* at = target();
        *at = std::move(container);
        frames_.push_back(Frame{at, {}});
        return true;
    }

    bool close() {
        frames_.pop_back();
        return true;
    }

    size_t max_depth_;
    Json root_;
    Json* slot_ = nullptr;
    std::vector<Frame> frames_;
};

}  // namespace

template <class Json>
Json parse_json_body_as(std::string_view text, size_t max_depth) {
    DomBuilder<Json> builder(max_depth);
    const bool ok = Json::sax_parse(text.begin(), text.end(), &builder,
                                    nlohmann::detail::input_format_t::json, /*strict=*/true);
    if (!ok) return Json(Json::value_t::discarded);
    return builder.take();
}

template nlohmann::ordered_json parse_json_body_as<nlohmann::ordered_json>(std::string_view,
                                                                           size_t);
template nlohmann::json parse_json_body_as<nlohmann::json>(std::string_view, size_t);

}  // namespace cria::server
