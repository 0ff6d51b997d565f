// What bench/x/reaches_into_tests.cc reaches for.
#pragma once
