from django.http import HttpRequest, HttpResponse


def library(request: HttpRequest) -> HttpResponse:
    return HttpResponse("library")


def add(request: HttpRequest) -> HttpResponse:
    return HttpResponse("add")


def title_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("title")


def delete(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("delete")
