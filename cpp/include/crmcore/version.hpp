#pragma once
namespace crmcore {
const char* version();
}
