"""The project's URLs plus a bare view, for benchmarks that compare a page with doing nothing."""

from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    return HttpResponse("ok")


urlpatterns = [path("bench-bare/", bare), path("", include("plank.urls"))]
