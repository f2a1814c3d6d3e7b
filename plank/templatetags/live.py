"""Template tags of the live layer (placeholder until the live layer lands)."""

from django import template

register = template.Library()
