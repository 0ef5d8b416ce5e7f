from django.http import HttpResponse, JsonResponse
from django.urls import path


def hello(request):
    return HttpResponse("hello from django")


def info(request):
    return JsonResponse({"script_name": request.META.get("SCRIPT_NAME", ""), "path": request.path})


urlpatterns = [path("", hello), path("info", info)]
