// The scratch buffer for reading a file piece by piece (to hash it): no larger than what is read, and
// not zero-filled, since every byte used is read into first. A 4 KiB file must not cost a 1 MiB memset.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace minisync {

class ReadBuffer {
public:
    static constexpr std::size_t MaxSize = 1U << 20;

    explicit ReadBuffer(std::uint64_t length)
        : size_{static_cast<std::size_t>(std::clamp<std::uint64_t>(length, 1, MaxSize))},
          data_{std::make_unique_for_overwrite<std::uint8_t[]>(size_)}
    {
    }

    [[nodiscard]] std::uint8_t* data() const noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<const std::uint8_t> first(std::size_t n) const noexcept { return {data_.get(), n}; }

private:
    std::size_t size_;
    std::unique_ptr<std::uint8_t[]> data_;
};

} // namespace minisync
