"""Template filters over core.money: `{{ cents|dollars }}`, `{{ km|km }}`, `{{ value|amount:unit }}`."""

from django import template

from core import money

register = template.Library()


@register.filter
def dollars(value):
    return money.dollars(value)


@register.filter
def km(value):
    return money.kilometers(value)


@register.filter
def amount(value, unit):
    return money.amount(value, unit)
