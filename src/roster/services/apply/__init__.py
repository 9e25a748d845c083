"""Applying batches: one planner per batch kind, and the table of kinds (``kinds``).

A planner decides a group of batches in memory (reading, not writing) and returns a plan the
worker writes in one transaction with the batches' ledgers. Module names carry the vendor.
"""
