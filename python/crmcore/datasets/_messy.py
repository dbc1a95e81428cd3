"""A messy export from another (Chinese) CRM, made from the synthetic CRM.

What a store's import meets in practice: Chinese column names and values,
dates and amounts in every spelling people and spreadsheets use, yes/no as
是/否 or Y/N, the other system's own codes for customers, and a few values
no one can read. The export is text, as a CSV file is; ``truth`` says what
each row means in the store's terms, so that an import can be checked.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._synthetic import SyntheticCRM, synthetic

__all__ = ["MessyExport", "messy_export"]

# The other system's words for the store's values.
KIND_LABELS = {"organization": "企业", "person": "个人"}
STATUS_LABELS = {"active": "活跃", "inactive": "沉睡", "lost": "流失", "prospect": "潜在"}
ORDER_STATUS_LABELS = {"completed": "已完成", "cancelled": "已取消", "returned": "已退货", "pending": "待处理"}
CHANNEL_LABELS = {"online_store": "网店", "sales_rep": "销售代表", "app": "APP", "phone": "电话",
                  "wechat_mini": "微信小程序", "retail_store": "门店", "distributor": "经销商"}
YES = ["是", "Y", "对", "yes", "真"]
NO = ["否", "N", "错", "no", "假"]
# Values a person typed that mean nothing the store can keep.
BAD_AMOUNTS = ["1,20,0", "待定", "12.3.4", "¥1,200元"]
BAD_DATES = ["2025/13/45", "明天", "2025-02-30", "25/1/5"]
_EXCEL_DAY0 = pd.Timestamp("1899-12-30")


class MessyExport(SyntheticCRM):
    """Export name ("customers", "orders", "tasks") -> DataFrame of text with
    the other system's headers, plus ``truth``: per export, a frame aligned
    with it of what each row means in the store's names (``customer`` is
    the row of the customers export it names; ``bad`` the field whose
    value cannot be read, or None)."""


def messy_export(n_customers: int = 500, seed: int = 0, bad_share: float = 0.02) -> MessyExport:
    """Customers, orders and follow-up tasks as another CRM would export them.

    About ``bad_share`` of the orders carry an amount or a date that cannot
    be read (named in ``truth["orders"]["bad"]``).

    >>> export = messy_export(50, seed=1)
    >>> export["customers"].columns[:3].tolist()
    ['客户编号', '客户名称', '客户类型']
    """
    data = synthetic(n_customers, seed=seed)
    rng = np.random.default_rng([seed, 9])
    customers, orders, tasks = data["customers"], data["orders"], data["tasks"]
    codes = pd.Series([f"KH{i:06d}" for i in range(len(customers))])

    c_truth = customers[["name", "kind", "phone", "email", "region", "industry", "status", "owner"]].copy()
    c_truth["vip"] = rng.random(len(customers)) < 0.15
    c_export = pd.DataFrame({
        "客户编号": codes,
        "客户名称": customers["name"],
        "客户类型": customers["kind"].map(KIND_LABELS),
        "联系电话": customers["phone"],
        "电子邮箱": customers["email"],
        "所在地区": customers["region"],
        "所属行业": customers["industry"],
        "客户状态": customers["status"].map(STATUS_LABELS),
        "负责人": customers["owner"],
        "是否VIP": _yes_no(rng, c_truth["vip"].to_numpy()),
    })

    placed = orders["customer_id"].to_numpy()
    when, when_text = _dates(rng, orders["ordered_at"])
    amount, amount_text = _amounts(rng, orders["amount"].to_numpy())
    cost, cost_text = _amounts(rng, orders["cost"].to_numpy())
    bad = np.full(len(orders), None, dtype=object)
    broken = np.flatnonzero(rng.random(len(orders)) < bad_share)
    in_amount = rng.random(len(broken)) < 0.5
    amount_text[broken[in_amount]] = rng.choice(BAD_AMOUNTS, in_amount.sum())
    when_text[broken[~in_amount]] = rng.choice(BAD_DATES, (~in_amount).sum())
    bad[broken] = np.where(in_amount, "amount", "ordered_at")
    o_export = pd.DataFrame({
        "订单编号": [f"DD{i:07d}" for i in range(len(orders))],
        "客户编号": codes.to_numpy()[placed],
        "下单时间": when_text,
        "订单金额": amount_text,
        "成本": cost_text,
        "渠道": orders["channel"].map(CHANNEL_LABELS).to_numpy(),
        "订单状态": orders["status"].map(ORDER_STATUS_LABELS).to_numpy(),
        "城市": orders["location"].to_numpy(),
    })
    o_truth = pd.DataFrame({"customer": placed, "ordered_at": when, "amount": amount, "cost": cost,
                            "channel": orders["channel"].to_numpy(), "status": orders["status"].to_numpy(),
                            "location": orders["location"].to_numpy(), "bad": bad})

    tasks = tasks[tasks["customer_id"] >= 0].reset_index(drop=True)
    due, due_text = _dates(rng, tasks["due_at"])
    done = tasks["done"].to_numpy(dtype=bool)
    t_export = pd.DataFrame({"任务主题": tasks["subject"], "截止日期": due_text,
                             "客户编号": codes.to_numpy()[tasks["customer_id"].to_numpy()],
                             "是否完成": _yes_no(rng, done)})
    t_truth = pd.DataFrame({"subject": tasks["subject"], "due_at": due, "customer": tasks["customer_id"].to_numpy(),
                            "done": done})
    frames = {"customers": c_export, "orders": o_export, "tasks": t_export}
    frames = {k: v.astype(object).where(v.notna(), None) for k, v in frames.items()}
    return MessyExport(frames, {"customers": c_truth, "orders": o_truth, "tasks": t_truth}, seed)


def _yes_no(rng, flags: np.ndarray) -> np.ndarray:
    """True/False as a person or a system writes them, one spelling per row."""
    return np.where(flags, rng.choice(YES, len(flags)), rng.choice(NO, len(flags)))


def _dates(rng, times: pd.Series) -> "tuple[np.ndarray, np.ndarray]":
    """Each time in one of the spellings exports use, and the time each spelling shows."""
    t = pd.to_datetime(times).reset_index(drop=True)
    day, minute = t.dt.floor("D"), t.dt.floor("min")
    y, m, d = (t.dt.year.astype(str), t.dt.month.astype(str), t.dt.day.astype(str))
    hm = t.dt.hour.astype(str) + ":" + t.dt.minute.astype(str).str.zfill(2)
    serial = (minute - _EXCEL_DAY0) / pd.Timedelta(days=1)
    spellings = [  # (text, the time it shows)
        (y + "/" + m + "/" + d, day),
        (y + "-" + m + "-" + d + " " + hm, minute),
        (y + "年" + m + "月" + d + "日", day),
        (y + "年" + m + "月" + d + "日 " + hm, minute),
        (t.dt.strftime("%Y%m%d"), day),
        (pd.Series(np.char.mod("%.10f", serial.to_numpy())), minute),  # an Excel serial day number
        (t.dt.strftime("%Y-%m-%d %H:%M:%S"), t.dt.floor("s")),
    ]
    pick = rng.integers(0, len(spellings), len(t))
    text = np.choose(pick, [s.to_numpy(dtype=object) for s, _ in spellings])
    shown = np.choose(pick, [w.to_numpy(dtype="datetime64[ns]").view(np.int64) for _, w in spellings])
    shown = pd.Series(shown.view("datetime64[ns]"))
    missing = t.isna().to_numpy()
    text[missing], shown[missing] = None, pd.NaT
    return shown.to_numpy(), text


def _amounts(rng, values: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
    """Each amount in one of the spellings exports use, and the number each spelling shows."""
    missing = np.isnan(values)
    cents = np.round(np.where(missing, 0, values) * 100).astype(np.int64)
    negative = cents < 0
    cents = np.abs(cents)
    whole = pd.Series(cents // 100).astype(str)
    fraction = "." + pd.Series(cents % 100).astype(str).str.zfill(2)
    plain = whole + fraction
    grouped = _grouped(cents // 100) + fraction
    # In 万 (10,000): the cents make six decimals, so the text is exact.
    wan = (pd.Series(cents // 1_000_000).astype(str) + "." + pd.Series(cents % 1_000_000).astype(str).str.zfill(6))
    wan = wan.str.rstrip("0").str.rstrip(".") + "万"
    spellings = [grouped, "¥" + grouped, "￥" + plain, "RMB " + plain, plain + "元", wan, plain]
    pick = rng.integers(0, len(spellings), len(values))
    text = np.choose(pick, [s.to_numpy(dtype=object) for s in spellings])
    text = np.where(negative, "-" + text.astype(str), text).astype(object)
    text[missing] = None
    shown = np.where(negative, -1, 1) * (cents / 100)
    return np.where(missing, np.nan, shown), text


def _grouped(whole: np.ndarray) -> pd.Series:
    """Whole numbers with thousands separators ("1,234,567"), below 10**12."""
    groups = [pd.Series(whole // 1000**k % 1000).astype(str) for k in range(4)]
    count = 1 + (whole >= 1000).astype(int) + (whole >= 10**6) + (whole >= 10**9)
    # The k-group spelling: the top group as it is, the lower ones padded to three digits.
    spelled = []
    for k in range(1, 5):
        text = groups[k - 1]
        for lower in reversed(range(k - 1)):
            text = text + "," + groups[lower].str.zfill(3)
        spelled.append(text.to_numpy(dtype=object))
    return pd.Series(np.choose(count - 1, spelled))
