"""Shop back end: catalogue, orders and returns; the interface, a seeded demo store and flow hooks.

Orders are visible only to the WhatsApp number that placed them: every lookup
takes the customer's ``wa_id`` and an order of somebody else is "not found" (the
bot cannot even confirm that it exists).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from aman.adapters.common import arg_str, rupiah
from aman.engine.flows.hooks import HookContext, HookResult, hook
from aman.nlu.normalize import normalize

__all__ = [
    "DemoShop",
    "Order",
    "OrderLine",
    "Product",
    "ShopBackend",
    "cancel_order",
    "create_order",
    "create_return",
    "default_shop",
    "find_product",
    "product_detail",
    "track_order",
]

_STATUS = {
    "awaiting_payment": ("Menunggu pembayaran", "Awaiting payment"),
    "paid": ("Sudah dibayar, sedang diproses", "Paid, being processed"),
    "packed": ("Sedang dikemas", "Being packed"),
    "shipped": ("Dalam pengiriman", "On the way"),
    "delivered": ("Sudah diterima", "Delivered"),
    "cancelled": ("Dibatalkan", "Cancelled"),
}
_CANCELLABLE = frozenset({"awaiting_payment", "paid", "packed"})
_RETURNABLE = frozenset({"delivered"})


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price: int
    stock: int
    description: tuple[str, str]  # (id, en)
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    price: int


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    wa_id: str
    lines: tuple[OrderLine, ...]
    status: str
    courier: str = ""
    tracking: str = ""
    returns: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(line.price * line.quantity for line in self.lines)


@runtime_checkable
class ShopBackend(Protocol):
    def products(self) -> Sequence[Product]: ...

    def create_order(self, wa_id: str, items: Sequence[tuple[str, int]]) -> Order: ...

    def order(self, wa_id: str, order_id: str) -> Order | None: ...

    def cancel(self, wa_id: str, order_id: str) -> Order | None: ...

    def create_return(
        self, wa_id: str, order_id: str, reason: str, method: str, photo: str
    ) -> str | None: ...


_CATALOGUE = (
    Product(
        "SKU-KOPI-250",
        "Kopi Arabika Gayo 250 g",
        45_000,
        120,
        (
            "Biji kopi arabika Gayo, sangrai medium, 250 gram.",
            "Gayo arabica coffee beans, medium roast, 250 grams.",
        ),
        ("kopi", "coffee", "arabika", "arabica", "gayo"),
    ),
    Product(
        "SKU-GULA-1KG",
        "Gula Aren 1 kg",
        18_500,
        300,
        ("Gula aren asli dari Banten, 1 kg.", "Pure palm sugar from Banten, 1 kg."),
        ("gula", "sugar", "aren", "palm"),
    ),
    Product(
        "SKU-TEH-100",
        "Teh Melati 100 g",
        22_000,
        80,
        ("Teh hijau melati khas Slawi, 100 gram.", "Jasmine green tea from Slawi, 100 grams."),
        ("teh", "tea", "melati", "jasmine"),
    ),
    Product(
        "SKU-MADU-500",
        "Madu Hutan 500 ml",
        95_000,
        0,
        ("Madu hutan Sumbawa 500 ml (stok habis).", "Sumbawa forest honey 500 ml (sold out)."),
        ("madu", "honey"),
    ),
    Product(
        "SKU-SAMBAL-150",
        "Sambal Bawang 150 g",
        27_500,
        45,
        (
            "Sambal bawang pedas, tanpa pengawet, 150 gram.",
            "Spicy shallot chili sauce, no preservatives, 150 grams.",
        ),
        ("sambal", "chili", "chilli", "sauce", "pedas"),
    ),
    Product(
        "SKU-BATIK-M",
        "Kemeja Batik Pria M",
        185_000,
        12,
        ("Kemeja batik cap, katun, ukuran M.", "Stamped batik shirt, cotton, size M."),
        ("batik", "kemeja", "shirt", "baju"),
    ),
)


def _seed_orders() -> dict[str, Order]:
    kopi, gula = _CATALOGUE[0], _CATALOGUE[1]
    return {
        "ORD-10001": Order(
            "ORD-10001",
            "6281234567890",
            (OrderLine(kopi.sku, kopi.name, 2, kopi.price),),
            "shipped",
            "JNE",
            "JNE0012345678",
        ),
        "ORD-10002": Order(
            "ORD-10002",
            "6281234567890",
            (OrderLine(gula.sku, gula.name, 1, gula.price),),
            "awaiting_payment",
        ),
        "ORD-10003": Order(
            "ORD-10003",
            "6281234567890",
            (OrderLine(kopi.sku, kopi.name, 1, kopi.price),),
            "delivered",
            "SiCepat",
            "SCP0098765432",
        ),
        "ORD-20001": Order(
            "ORD-20001",
            "6281298765432",
            (OrderLine(gula.sku, gula.name, 3, gula.price),),
            "delivered",
            "J&T",
            "JT0011223344",
        ),
    }


class DemoShop:
    """In-memory demo store; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders = _seed_orders()
        self._next = 30001
        self._returns = 0

    def products(self) -> Sequence[Product]:
        return _CATALOGUE

    def create_order(self, wa_id: str, items: Sequence[tuple[str, int]]) -> Order:
        by_sku = {p.sku: p for p in _CATALOGUE}
        lines = tuple(
            OrderLine(sku, by_sku[sku].name, qty, by_sku[sku].price) for sku, qty in items
        )
        with self._lock:
            order_id = f"ORD-{self._next}"
            self._next += 1
            order = Order(order_id, wa_id, lines, "awaiting_payment")
            self._orders[order_id] = order
            return order

    def order(self, wa_id: str, order_id: str) -> Order | None:
        with self._lock:
            found = self._orders.get(order_id)
        return found if found is not None and found.wa_id == wa_id else None

    def cancel(self, wa_id: str, order_id: str) -> Order | None:
        with self._lock:
            found = self._orders.get(order_id)
            if found is None or found.wa_id != wa_id:
                return None
            if found.status in _CANCELLABLE:
                found = replace(found, status="cancelled")
                self._orders[order_id] = found
            return found

    def create_return(
        self, wa_id: str, order_id: str, reason: str, method: str, photo: str
    ) -> str | None:
        with self._lock:
            found = self._orders.get(order_id)
            if found is None or found.wa_id != wa_id or found.status not in _RETURNABLE:
                return None
            self._returns += 1
            number = f"RTR-{self._returns:05d}"
            self._orders[order_id] = replace(found, returns=(*found.returns, number))
            return number


_DEFAULT: DemoShop | None = None
_DEFAULT_LOCK = threading.Lock()


def default_shop() -> DemoShop:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = DemoShop()
        return _DEFAULT


def _shop(ctx: HookContext) -> ShopBackend:
    found = ctx.services.get("shop")
    return found if isinstance(found, ShopBackend) else default_shop()


def _status_text(status: str, lang: str) -> str:
    pair = _STATUS.get(status, (status, status))
    return pair[1] if lang == "en" else pair[0]


def _lines_text(order: Order) -> str:
    return "\n".join(
        f"{line.quantity}x {line.name} - {rupiah(line.price * line.quantity)}"
        for line in order.lines
    )


def _order_items(raw: Mapping[str, Any]) -> list[tuple[str, int]] | None:
    order = raw.get("order")
    items = order.get("product_items") if isinstance(order, Mapping) else None
    if not isinstance(items, list) or not items or len(items) > 50:
        return None
    out: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, Mapping):
            return None
        sku, qty = item.get("product_retailer_id"), item.get("quantity")
        if not isinstance(sku, str) or isinstance(qty, bool) or not isinstance(qty, int):
            return None
        if not 1 <= qty <= 99:
            return None
        out.append((sku, qty))
    return out


@hook(outcomes=("ok", "empty", "unknown_items", "out_of_stock"))
def create_order(ctx: HookContext) -> HookResult:
    """Turn a catalogue cart (an ``order`` message) into an order at our catalogue prices."""
    items = _order_items(ctx.msg.raw)
    if not items:
        return HookResult("empty")
    shop = _shop(ctx)
    by_sku = {p.sku: p for p in shop.products()}
    unknown = [sku for sku, _ in items if sku not in by_sku]
    if unknown:
        return HookResult("unknown_items")
    short = [by_sku[sku].name for sku, qty in items if by_sku[sku].stock < qty]
    if short:
        return HookResult("out_of_stock", {"unavailable": ", ".join(short)})
    order = shop.create_order(ctx.msg.wa_id, items)
    return HookResult(
        fields={
            "order_id": order.order_id,
            "order_total": order.total,
            "order_lines": _lines_text(order),
        }
    )


@hook(outcomes=("ok", "not_found"))
def track_order(ctx: HookContext) -> HookResult:
    """Status of ``order_id`` for this customer only."""
    order = _shop(ctx).order(ctx.msg.wa_id, arg_str(ctx, "order_id"))
    if order is None:
        return HookResult("not_found")
    tracking = f"{order.courier} {order.tracking}".strip() or "-"
    return HookResult(
        fields={
            "order_status": _status_text(order.status, ctx.lang),
            "order_total": order.total,
            "order_lines": _lines_text(order),
            "tracking": tracking,
        }
    )


@hook(outcomes=("ok", "not_found", "already_shipped", "already_cancelled"))
def cancel_order(ctx: HookContext) -> HookResult:
    """Cancel ``order_id`` if it has not been shipped yet."""
    shop = _shop(ctx)
    order_id = arg_str(ctx, "order_id")
    before = shop.order(ctx.msg.wa_id, order_id)
    if before is None:
        return HookResult("not_found")
    if before.status == "cancelled":
        return HookResult("already_cancelled")
    if before.status not in _CANCELLABLE:
        return HookResult(
            "already_shipped", {"order_status": _status_text(before.status, ctx.lang)}
        )
    shop.cancel(ctx.msg.wa_id, order_id)
    return HookResult(fields={"order_total": before.total})


@hook(outcomes=("ok", "not_found", "not_returnable"))
def create_return(ctx: HookContext) -> HookResult:
    """Register a return: ``order_id``, ``reason``, ``method`` (pickup/dropoff), ``photo``."""
    shop = _shop(ctx)
    order_id = arg_str(ctx, "order_id")
    order = shop.order(ctx.msg.wa_id, order_id)
    if order is None:
        return HookResult("not_found")
    photo = ctx.fields.get("return_photo")
    photo_id = photo.get("id", "") if isinstance(photo, Mapping) else ""
    number = shop.create_return(
        ctx.msg.wa_id, order_id, arg_str(ctx, "reason"), arg_str(ctx, "method"), str(photo_id)
    )
    if number is None:
        return HookResult("not_returnable", {"order_status": _status_text(order.status, ctx.lang)})
    return HookResult(fields={"return_id": number})


def _describe(product: Product, lang: str) -> dict[str, Any]:
    stock = (
        ("Stok habis" if lang != "en" else "Sold out")
        if product.stock <= 0
        else (f"Stok: {product.stock}" if lang != "en" else f"In stock: {product.stock}")
    )
    return {
        "product_name": product.name,
        "product_price": product.price,
        "product_stock": stock,
        "product_desc": product.description[1] if lang == "en" else product.description[0],
    }


@hook(outcomes=("one", "many", "none"))
def find_product(ctx: HookContext) -> HookResult:
    """Products matching the customer's words (``query`` argument or the message text)."""
    query = ctx.args.get("query") or ctx.msg.text or ""
    words = set(re.findall(r"[a-z]+", normalize(str(query))))
    products = list(_shop(ctx).products())
    hits = [p for p in products if words & set(p.keywords)]
    rows = [
        {"id": p.sku, "title": p.name[:24], "description": rupiah(p.price)}
        for p in (hits or products)[:10]
    ]
    if len(hits) == 1:
        return HookResult("one", {**_describe(hits[0], ctx.lang), "product_rows": rows})
    return HookResult("many" if hits else "none", {"product_rows": rows})


@hook(outcomes=("ok", "not_found"))
def product_detail(ctx: HookContext) -> HookResult:
    """Details of product ``sku``."""
    sku = arg_str(ctx, "sku")
    product = next((p for p in _shop(ctx).products() if p.sku == sku), None)
    if product is None:
        return HookResult("not_found")
    return HookResult(fields=_describe(product, ctx.lang))
