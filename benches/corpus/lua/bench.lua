-- Workload for the Lua 5.4 interpreter (lua-src crate): a mix of typical script code.
-- Every section prints a deterministic result; no io/os library is used.

local function fannkuch(n)
  local perm, perm1, count = {}, {}, {}
  local maxflips, checksum, r, nperm = 0, 0, n, 0
  for i = 0, n - 1 do perm1[i] = i end
  while true do
    while r ~= 1 do count[r - 1] = r; r = r - 1 end
    for i = 0, n - 1 do perm[i] = perm1[i] end
    local flips = 0
    local k = perm[0]
    while k ~= 0 do
      local i, j = 0, k
      while i < j do perm[i], perm[j] = perm[j], perm[i]; i = i + 1; j = j - 1 end
      flips = flips + 1
      k = perm[0]
    end
    if flips > maxflips then maxflips = flips end
    checksum = checksum + (nperm % 2 == 0 and flips or -flips)
    while true do
      if r == n then return checksum, maxflips end
      local p0 = perm1[0]
      for i = 0, r - 1 do perm1[i] = perm1[i + 1] end
      perm1[r] = p0
      count[r] = count[r] - 1
      if count[r] > 0 then break end
      r = r + 1
    end
    nperm = nperm + 1
  end
end

local function bottomup(d)
  if d == 0 then return {} end
  d = d - 1
  return {bottomup(d), bottomup(d)}
end
local function check(t)
  if t[1] then return 1 + check(t[1]) + check(t[2]) end
  return 1
end

local Account = {}
Account.__index = Account
function Account.new(id) return setmetatable({id = id, balance = 0, ops = 0}, Account) end
function Account:deposit(v) self.balance = self.balance + v; self.ops = self.ops + 1 end
function Account:withdraw(v)
  if v <= self.balance then self.balance = self.balance - v; self.ops = self.ops + 1; return true end
  return false
end

local seed = 42
local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end

-- 1. permutations
local c, m = fannkuch(8)
print(string.format("fannkuch(8) checksum %d maxflips %d", c, m))

-- 2. allocation: binary trees
local total = 0
for i = 1, 6 do total = total + check(bottomup(12)) end
print("trees nodes " .. total)

-- 3. objects and method calls
local accounts = {}
for i = 1, 1000 do accounts[i] = Account.new(i) end
local refused = 0
for i = 1, 200000 do
  local a = accounts[rand(1000) + 1]
  if rand(3) == 0 then
    if not a:withdraw(rand(500)) then refused = refused + 1 end
  else a:deposit(rand(300)) end
end
local sum = 0
for _, a in ipairs(accounts) do sum = sum + a.balance end
print("accounts balance " .. sum .. " refused " .. refused)

-- 4. strings: build, format, gsub, patterns, concat
local parts = {}
for i = 1, 20000 do parts[#parts + 1] = string.format("%05d:%s", rand(100000), ("x"):rep(i % 7)) end
local s = table.concat(parts, ",")
local s2, nsub = s:gsub("(%d+):(x*)", function(d, x) return x .. d:reverse() end)
local words = 0
for w in s2:gmatch("[^,]+") do words = words + #w end
print(string.format("strings len %d subs %d chars %d upper %s", #s, nsub, words, s2:sub(1, 24):upper()))

-- 5. sorting with a comparator and a hash table count
local arr = {}
for i = 1, 40000 do arr[i] = {k = rand(1000000), v = i} end
table.sort(arr, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.v < b.v end)
local h = 0
for i = 1, #arr, 7 do h = (h * 31 + arr[i].k) % 1000000007 end
local freq = {}
for i = 1, #arr do local key = arr[i].k % 1000; freq[key] = (freq[key] or 0) + 1 end
local maxf, maxk = 0, -1
for k, v in pairs(freq) do if v > maxf or (v == maxf and k < maxk) then maxf, maxk = v, k end end
print("sort hash " .. h .. " mode " .. maxk .. " x" .. maxf)

-- 6. floating point: spectral norm
local function A(i, j) local ij = i + j - 1; return 1.0 / (ij * (ij - 1) * 0.5 + i) end
local function Av(x, y, N) for i = 1, N do local a = 0; for j = 1, N do a = a + x[j] * A(i, j) end; y[i] = a end end
local function Atv(x, y, N) for i = 1, N do local a = 0; for j = 1, N do a = a + x[j] * A(j, i) end; y[i] = a end end
local N = 100
local u, v, t = {}, {}, {}
for i = 1, N do u[i] = 1 end
for i = 1, 10 do Av(u, t, N); Atv(t, v, N); Av(v, t, N); Atv(t, u, N) end
local vBv, vv = 0, 0
for i = 1, N do local ui, vi = u[i], v[i]; vBv = vBv + ui * vi; vv = vv + vi * vi end
print(string.format("spectralnorm %.9f", math.sqrt(vBv / vv)))
