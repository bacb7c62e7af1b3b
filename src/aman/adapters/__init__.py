"""aman.adapters: back ends the bots call (core banking, payments, shop) and demo versions."""
