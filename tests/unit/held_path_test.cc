// Tests for a request's hold on a path lock: released when the holder goes, and only once, however
// the holder is moved.
#include "held_path.h"

#include "request_fixture.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>

namespace minisync::server {
namespace {

using HeldPathTest = test::RequestFixture;

TEST_F(HeldPathTest, ReleasedWhenDestroyed)
{
    {
        std::optional<HeldPath> held = HeldPath::acquire(locks_, key_of("a"), false);
        ASSERT_TRUE(held);
        EXPECT_EQ(held->key(), key_of("a"));
        EXPECT_NE(held->strand(), nullptr);
        EXPECT_FALSE(HeldPath::acquire(locks_, key_of("a"), false));
    }
    EXPECT_TRUE(HeldPath::acquire(locks_, key_of("a"), false));
}

TEST_F(HeldPathTest, TheHoldMovesWithTheObject)
{
    std::optional<HeldPath> first = HeldPath::acquire(locks_, key_of("a"), false);
    ASSERT_TRUE(first);
    std::optional<HeldPath> second{std::move(*first)};
    first.reset(); // the moved-from holder releases nothing
    EXPECT_FALSE(HeldPath::acquire(locks_, key_of("a"), false));
    second.reset();
    EXPECT_TRUE(HeldPath::acquire(locks_, key_of("a"), false));
}

TEST_F(HeldPathTest, MoveAssignmentReleasesThePathHeldBefore)
{
    std::optional<HeldPath> a = HeldPath::acquire(locks_, key_of("a"), false);
    std::optional<HeldPath> b = HeldPath::acquire(locks_, key_of("b"), false);
    ASSERT_TRUE(a && b);
    *a = std::move(*b);
    EXPECT_EQ(a->key(), key_of("b"));
    EXPECT_TRUE(HeldPath::acquire(locks_, key_of("a"), false)) << "a's old path went with the assignment";
    b.reset();
    EXPECT_FALSE(HeldPath::acquire(locks_, key_of("b"), false)) << "b's path is a's now";
}

} // namespace
} // namespace minisync::server
