"""Charity projects: what a charity offers, to whom, where, until when, and how many places.

Shaped after Open Referral HSDS 3.0 (organisation → service → service area / location): a
project is a service of one organisation, with the kinds of help it gives, the groups it is for,
the streets and communities it serves, its period, its capacity and its eligibility — the last
as data the gateway evaluates on a case inside itself, so that matching shares nothing about the
person. Modules: ``model`` (the plain records), ``validate`` (the rules a published project must
meet), ``repository`` (the store), ``capacity`` (the pre-flight question without any
identifier) and ``matching`` (ranking a case's fitting projects, with reasons).
"""
